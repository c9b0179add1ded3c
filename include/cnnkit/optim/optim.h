// The optim layer (torch/optim.h): optimisers and LR schedulers. Gradient clipping is
// nn::utils::clip_grad_norm_ / clip_grad_value_ (cnnkit/nn/utils/clip_grad.h), as in torch.
#pragma once

#include "cnnkit/optim/adagrad.h"
#include "cnnkit/optim/adam.h"
#include "cnnkit/optim/adamw.h"
#include "cnnkit/optim/lr_scheduler.h"
#include "cnnkit/optim/optimizer.h"
#include "cnnkit/optim/rmsprop.h"
#include "cnnkit/optim/sgd.h"
