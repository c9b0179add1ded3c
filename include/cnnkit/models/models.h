// The models layer: the model zoo, models built from config files, model summaries.
#pragma once

#include "cnnkit/models/builder.h"
#include "cnnkit/models/summary.h"
#include "cnnkit/models/zoo.h"
