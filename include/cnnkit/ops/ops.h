// All differentiable ops (the free functions of `torch::`).
#pragma once

#include "cnnkit/ops/activation.h"
#include "cnnkit/ops/conv.h"
#include "cnnkit/ops/dropout.h"
#include "cnnkit/ops/elementwise.h"
#include "cnnkit/ops/factory.h"
#include "cnnkit/ops/indexing.h"
#include "cnnkit/ops/linalg.h"
#include "cnnkit/ops/loss.h"
#include "cnnkit/ops/norm.h"
#include "cnnkit/ops/pool.h"
#include "cnnkit/ops/reduce.h"
#include "cnnkit/ops/shape.h"
#include "cnnkit/ops/softmax.h"
