// Typed errors and the two check channels (c10's TORCH_CHECK / TORCH_INTERNAL_ASSERT).
// CNNKIT_CHECK* throw a cnnkit::Error subclass for bad user input and stay on in release
// builds; the message is only built on failure. CNNKIT_ASSERT guards library invariants.
// The library never calls exit() or abort(); only the CLI maps exceptions to exit codes.
#pragma once

#include <exception>
#include <sstream>
#include <stdexcept>
#include <string>

namespace cnnkit {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class ShapeError : public Error { public: using Error::Error; };          // wrong rank, sizes, broadcast
class ValueError : public Error { public: using Error::Error; };          // bad argument value
class TypeError : public Error { public: using Error::Error; };           // wrong dtype
class IOError : public Error { public: using Error::Error; };             // files: missing, corrupt, short
class NotImplementedError : public Error { public: using Error::Error; };
class InternalError : public Error { public: using Error::Error; };       // broken invariant: a bug

namespace detail {
inline void append(std::ostringstream&) {}
template <typename T, typename... Rest>
void append(std::ostringstream& os, const T& first, const Rest&... rest) {
  os << first;
  append(os, rest...);
}
template <typename E, typename... Args>
[[noreturn]] void fail(const char* file, int line, const Args&... args) {
  std::ostringstream os;
  append(os, args...);
  (void)file;
  (void)line;
  throw E(os.str());
}
template <typename... Args>
[[noreturn]] void internal_fail(const char* cond, const char* file, int line, const Args&... args) {
  std::ostringstream os;
  os << "internal assertion failed: " << cond << " at " << file << ":" << line << ". ";
  append(os, args...);
  os << " (this is a cnnkit bug)";
  throw InternalError(os.str());
}
}  // namespace detail

// Rethrows the exception `ep` with `prefix` in front of its message (e.g. the file a state
// dict came from, the example a loader worker failed on), keeping its cnnkit::Error class
// so that callers can still catch ShapeError, IOError, ...; other exceptions become
// cnnkit::Error. Subclasses outside this header (ConfigError) come back as their nearest
// class here.
[[noreturn]] inline void rethrow_with_prefix(std::exception_ptr ep, const std::string& prefix) {
  try {
    std::rethrow_exception(ep);
  } catch (const ShapeError& e) {
    throw ShapeError(prefix + e.what());
  } catch (const TypeError& e) {
    throw TypeError(prefix + e.what());
  } catch (const IOError& e) {
    throw IOError(prefix + e.what());
  } catch (const NotImplementedError& e) {
    throw NotImplementedError(prefix + e.what());
  } catch (const InternalError& e) {
    throw InternalError(prefix + e.what());
  } catch (const ValueError& e) {
    throw ValueError(prefix + e.what());
  } catch (const std::exception& e) {
    throw Error(prefix + e.what());
  } catch (...) {
    throw Error(prefix + "unknown exception");
  }
}
// The same for the exception being handled: `catch (const Error&) { rethrow_with_prefix(path + ": "); }`.
[[noreturn]] inline void rethrow_with_prefix(const std::string& prefix) {
  rethrow_with_prefix(std::current_exception(), prefix);
}

}  // namespace cnnkit

#define CNNKIT_CHECK_T(ErrorType, cond, ...)                                    \
  do {                                                                          \
    if (__builtin_expect(!(cond), 0))                                           \
      ::cnnkit::detail::fail<ErrorType>(__FILE__, __LINE__, __VA_ARGS__);       \
  } while (0)

#define CNNKIT_CHECK(cond, ...) CNNKIT_CHECK_T(::cnnkit::ValueError, cond, __VA_ARGS__)
#define CNNKIT_CHECK_SHAPE(cond, ...) CNNKIT_CHECK_T(::cnnkit::ShapeError, cond, __VA_ARGS__)
#define CNNKIT_CHECK_TYPE(cond, ...) CNNKIT_CHECK_T(::cnnkit::TypeError, cond, __VA_ARGS__)
#define CNNKIT_CHECK_IO(cond, ...) CNNKIT_CHECK_T(::cnnkit::IOError, cond, __VA_ARGS__)
#define CNNKIT_ASSERT(cond, ...)                                                          \
  do {                                                                                    \
    if (__builtin_expect(!(cond), 0))                                                     \
      ::cnnkit::detail::internal_fail(#cond, __FILE__, __LINE__, ##__VA_ARGS__);          \
  } while (0)
