// The train layer: Trainer, callbacks, metrics, progress bar, run configs.
#pragma once
