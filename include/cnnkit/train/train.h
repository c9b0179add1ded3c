// The train layer: Trainer, callbacks, metrics, progress bar, run configs, the lr range test.
#pragma once

#include "cnnkit/io/checkpoint.h"
#include "cnnkit/train/callbacks.h"
#include "cnnkit/train/config.h"
#include "cnnkit/train/lr_find.h"
#include "cnnkit/train/metrics.h"
#include "cnnkit/train/progress.h"
#include "cnnkit/train/run.h"
#include "cnnkit/train/shard.h"
#include "cnnkit/train/trainer.h"
