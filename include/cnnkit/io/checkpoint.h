// Training checkpoints: model weights, optimiser and scheduler state, RNG states, counters
// and callback state in ONE safetensors file, written atomically (temp file, fsync, rename),
// so a run killed at any moment leaves either the previous checkpoint or the new one.
// Generic on purpose: this layer knows nothing of the Trainer; train/ fills `extra`.
//
//   io::Checkpoint ck;
//   ck.model = io::named_tensors(net->state_dict());
//   ck.optimizer = opt.state_dict();
//   ck.extra["trainer.epoch"] = "3";
//   io::save_checkpoint("runs/x/checkpoint_last.safetensors", ck);
//   io::Checkpoint back = io::load_checkpoint("runs/x/checkpoint_last.safetensors");
//   io::load_model_state("runs/x/checkpoint_last.safetensors", back, *net);  // checks shapes
//
// File layout (any safetensors reader opens it; PyTorch sees the weights as "model.<key>"):
//   tensors   "model.<key>", "optimizer.<key>", "scheduler.<key>", "extra.<key>"
//   metadata  "cnnkit.format" = "checkpoint", "cnnkit.version" = "1",
//             "optimizer.<key>" / "scheduler.<key>" = scalar printed with %.17g (exact),
//             "extra.<key>" = string, "model.fingerprint" = "name[shape];..." of the weights.
#pragma once

#include <map>
#include <string>

#include "cnnkit/io/safetensors.h"
#include "cnnkit/optim/optimizer.h"

namespace cnnkit::nn {
class Module;
}

namespace cnnkit::io {

inline constexpr const char* kCheckpointFormat = "checkpoint";
inline constexpr int kCheckpointVersion = 1;

struct Checkpoint {
  NamedTensors model;                        // the module's state_dict, in its order
  optim::StateDict optimizer;                // Optimizer::state_dict()
  optim::StateDict scheduler;                // LRScheduler::state_dict()
  std::map<std::string, std::string> extra;  // RNG states, epoch, step, callback state, ...
  std::map<std::string, Tensor> extra_tensors;  // e.g. EarlyStopping's best weights
};

// The module's state dict as NamedTensors (detached, in registration order).
NamedTensors named_tensors(const OrderedDict<std::string, Tensor>& state_dict);

// "features.0.weight[6,1,5,5];features.0.bias[6];..." over the state dict: identifies the
// architecture a checkpoint was saved from.
std::string model_fingerprint(const NamedTensors& model);
std::string model_fingerprint(const nn::Module& module);

// Doubles as text that reads back bit for bit (%.17g; "nan", "inf" and "-inf" included).
std::string format_double(double v);
double parse_double(const std::string& s, const std::string& what);  // ValueError naming `what`

// Writes `checkpoint` to `path` atomically. ValueError on an undefined tensor or an empty key.
void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);

// Reads a checkpoint. IOError naming the file when it is missing, not safetensors, not a
// cnnkit checkpoint (no "cnnkit.format" key) or of a newer version; ValueError on a
// malformed scalar.
Checkpoint load_checkpoint(const std::string& path);

// Throws ValueError naming `path` and the first difference unless the checkpoint's model
// tensors have exactly the module's state-dict keys and shapes:
//   "checkpoint runs/x/last.safetensors was saved from another model: 'features.0.weight'
//    has shape [6, 1, 5, 5], the model expects [16, 1, 5, 5]"
void check_model_matches(const std::string& path, const Checkpoint& checkpoint, const nn::Module& module);

// check_model_matches, then copies the weights into the module (its tensors keep their
// identity, so an optimiser built on them stays valid).
void load_model_state(const std::string& path, const Checkpoint& checkpoint, nn::Module& module);

}  // namespace cnnkit::io
