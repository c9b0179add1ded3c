// The models layer: the model zoo, models built from config files, model summaries.
#pragma once
