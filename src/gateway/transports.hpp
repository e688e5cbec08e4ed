// Starting a client session on an accepted, parsed HTTP request. One function per transport,
// for both plain TCP and TLS streams (instantiated in ws_session.cpp and sse_session.cpp, so
// the heavy Beast templates compile there only).
#pragma once

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <optional>

#include "gateway/auth.hpp"
#include "gateway/client_session.hpp"

namespace pgpulse::gateway {

using PlainStream = boost::beast::tcp_stream;
using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;
using Request = boost::beast::http::request<boost::beast::http::string_body>;

/// Accepts the WebSocket upgrade in `request` and serves the JSON protocol (docs/protocol.md).
template <class Stream>
void run_websocket(ServerContext& context, std::size_t loop, Stream stream, Request request,
                   std::optional<Grant> grant);

/// Serves one Server-Sent Events subscription described by the query of `request`.
template <class Stream>
void run_sse(ServerContext& context, std::size_t loop, Stream stream, Request request,
             std::optional<Grant> grant);

}  // namespace pgpulse::gateway
