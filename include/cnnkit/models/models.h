// The models layer: the model zoo, the layer table, models built from config files, model
// summaries, and the strict YAML helpers every config section is read with.
#pragma once

#include "cnnkit/models/builder.h"
#include "cnnkit/models/layers.h"
#include "cnnkit/models/summary.h"
#include "cnnkit/models/yaml_util.h"
#include "cnnkit/models/zoo.h"
