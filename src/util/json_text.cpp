#include "util/json_text.hpp"

#include <algorithm>
#include <boost/json/serializer.hpp>

namespace pgpulse::json_text {

void append_string(std::string& out, std::string_view text) {
  // Most names and payloads need no escaping: copy those straight, and leave the rules of
  // JSON escaping to Boost.JSON for the rest.
  bool plain = std::none_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\';
  });
  if (plain) {
    out += '"';
    out.append(text);
    out += '"';
    return;
  }
  boost::json::serializer serializer;
  serializer.reset(boost::json::string_view(text.data(), text.size()));
  char buffer[4096];
  while (!serializer.done()) {
    auto chunk = serializer.read(buffer);
    out.append(chunk.data(), chunk.size());
  }
}

}  // namespace pgpulse::json_text
