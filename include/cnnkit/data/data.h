// The data layer (torch/data.h + torchvision): datasets, transforms, DataLoader, splits.
#pragma once

#include "cnnkit/data/dataloader.h"
#include "cnnkit/data/dataset.h"
#include "cnnkit/data/datasets/tensor.h"
#include "cnnkit/data/transforms.h"
#include "cnnkit/data/clean.h"
#include "cnnkit/data/datasets/cifar.h"
#include "cnnkit/data/datasets/csv.h"
#include "cnnkit/data/datasets/image_folder.h"
#include "cnnkit/data/datasets/mnist.h"
#include "cnnkit/data/datasets/npy.h"
#include "cnnkit/data/folds.h"
#include "cnnkit/data/image.h"
#include "cnnkit/data/iterable.h"
#include "cnnkit/data/shards.h"
#include "cnnkit/data/split.h"
#include "cnnkit/data/stats.h"
