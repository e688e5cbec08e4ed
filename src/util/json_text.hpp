// Appending JSON text to a growing buffer: the output side of every outlet.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace pgpulse::json_text {

/// Appends `text` as a JSON string literal (quotes included).
void append_string(std::string& out, std::string_view text);

}  // namespace pgpulse::json_text
