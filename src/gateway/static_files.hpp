// The demo pages: files under a root directory, served read-only.
#pragma once

#include <optional>
#include <string>

namespace pgpulse::gateway {

/// The Content-Type of a file, by its extension.
const char* content_type(const std::string& path);

/// The file under `root` for a URL path (a directory path means its index.html), or nullopt:
/// no "..", no hidden files, no directories.
std::optional<std::string> read_static(const std::string& root, std::string path);

}  // namespace pgpulse::gateway
