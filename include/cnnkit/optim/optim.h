// The optim layer (torch/optim.h): optimisers, LR schedulers and gradient clipping.
#pragma once

#include "cnnkit/optim/lr_scheduler.h"
#include "cnnkit/optim/optimizer.h"
