// The cursor file of `pgpulse watch --state FILE`: where to resume after any restart.
#pragma once

#include <optional>
#include <string>

namespace pgpulse::cli {

class StateFile {
 public:
  explicit StateFile(std::string path);

  /// The saved cursor, or nullopt when the file does not exist yet. Throws Error if unreadable.
  std::optional<std::string> load() const;
  /// Replaces the saved cursor atomically and durably: written to a temporary file, fsync'd,
  /// renamed over the old one, and the directory fsync'd. After a crash (kill -9 or power
  /// loss) the file holds either the old cursor or the new one, never a torn mix.
  void save(const std::string& cursor);

 private:
  std::string path_;
  std::string temp_path_;
  std::string directory_;
};

}  // namespace pgpulse::cli
