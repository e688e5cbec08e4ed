#include "gateway/static_files.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string_view>

namespace pgpulse::gateway {

const char* content_type(const std::string& path) {
  auto ends = [&](std::string_view suffix) { return path.ends_with(suffix); };
  if (ends("/") || ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js") || ends(".mjs")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".json")) return "application/json";
  if (ends(".png")) return "image/png";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".ico")) return "image/x-icon";
  return "text/plain; charset=utf-8";
}

std::optional<std::string> read_static(const std::string& root, std::string path) {
  if (path == "/" || path.ends_with("/")) path += "index.html";
  if (path.find("..") != std::string::npos || path.find("/.") != std::string::npos ||
      path.find('\\') != std::string::npos) {
    return std::nullopt;
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(root + path, ec)) return std::nullopt;  // not a directory
  std::ifstream in(root + path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return body;
}

}  // namespace pgpulse::gateway
