// pgpulse/pgpulse.hpp: the whole public API.
#pragma once

#include "pgpulse/capture.hpp"
#include "pgpulse/change_event.hpp"
#include "pgpulse/change_stream.hpp"
#include "pgpulse/connection_options.hpp"
#include "pgpulse/cursor.hpp"
#include "pgpulse/error.hpp"
#include "pgpulse/listener.hpp"
#include "pgpulse/notification.hpp"
#include "pgpulse/table_name.hpp"
