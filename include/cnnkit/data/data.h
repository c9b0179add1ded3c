// The data layer (torch/data.h + torchvision): datasets, transforms, DataLoader, splits.
#pragma once

#include "cnnkit/data/dataloader.h"
#include "cnnkit/data/dataset.h"
#include "cnnkit/data/datasets/tensor.h"
#include "cnnkit/data/transforms.h"
