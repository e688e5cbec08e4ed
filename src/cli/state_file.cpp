#include "cli/state_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "pgpulse/error.hpp"

namespace pgpulse::cli {

namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path) {
  throw Error("cannot " + what + " state file " + path + ": " + std::strerror(errno));
}

// Owns a file descriptor for the duration of one save.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

StateFile::StateFile(std::string path)
    : path_(std::move(path)),
      temp_path_(path_ + ".tmp"),
      directory_(std::filesystem::absolute(path_).parent_path().string()) {}

std::optional<std::string> StateFile::load() const {
  std::ifstream in(path_);
  if (!in) {
    if (errno == ENOENT) return std::nullopt;
    fail("read", path_);
  }
  std::string cursor;
  std::getline(in, cursor);
  if (cursor.empty()) throw Error("state file " + path_ + " is empty or damaged");
  return cursor;
}

void StateFile::save(const std::string& cursor) {
  std::string text = cursor + "\n";
  {
    Fd file{::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
    if (file.fd < 0) fail("write", temp_path_);
    if (::write(file.fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
      fail("write", temp_path_);
    }
    if (::fsync(file.fd) != 0) fail("sync", temp_path_);
  }
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) fail("replace", path_);
  Fd directory{::open(directory_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (directory.fd >= 0) ::fsync(directory.fd);  // makes the rename itself durable
}

}  // namespace pgpulse::cli
