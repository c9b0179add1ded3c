// The models layer: the model zoo, the layer table, models built from config files, model
// summaries and per-layer timings.
#pragma once

#include "cnnkit/models/builder.h"
#include "cnnkit/models/inference.h"
#include "cnnkit/models/layers.h"
#include "cnnkit/models/profile.h"
#include "cnnkit/models/summary.h"
#include "cnnkit/models/zoo.h"
