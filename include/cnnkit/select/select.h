// The model-selection layer: search spaces and trials, successive halving, SAMME boosting,
// ensembles (sklearn.model_selection + sklearn.ensemble, over train::Run's models). Folds and
// resampling are the data layer's (cnnkit/data/folds.h). The namespace is
// cnnkit::model_selection (sklearn's module name), not the folder's: cnnkit::select is the
// tensor op (torch::select).
#pragma once

#include "cnnkit/select/boosting.h"
#include "cnnkit/select/cv.h"
#include "cnnkit/select/halving.h"
#include "cnnkit/select/search.h"
#include "cnnkit/select/space.h"
