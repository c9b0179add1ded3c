// The optim layer (torch/optim.h): optimisers, LR schedulers and gradient clipping.
#pragma once

#include "cnnkit/nn/utils/clip_grad.h"
#include "cnnkit/optim/adagrad.h"
#include "cnnkit/optim/adam.h"
#include "cnnkit/optim/adamw.h"
#include "cnnkit/optim/lr_scheduler.h"
#include "cnnkit/optim/optimizer.h"
#include "cnnkit/optim/rmsprop.h"
#include "cnnkit/optim/sgd.h"
