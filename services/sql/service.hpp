// SQL binding: registration of the "sql" kind and its `e3 svc sql` harness.
#pragma once

#include <cstdint>
#include <string>

#include "actors/service.hpp"

namespace e3::services {

/// Registers the "sql" kind (formats and durability in services/sql/sql.hpp).
void register_sql(service_registry& r);

/// `e3 svc sql [--db-init FILE.sql] [--records FILE.csv ...] --query "SELECT ..."`.
int sql_svc_main(int argc, char** argv);

/// Parses integer nanoseconds or "YYYY-MM-DD HH:MM:SS" (space or T, UTC) into nanoseconds since
/// the Unix epoch; false when it is neither.
bool sql_parse_timestamp(const std::string& s, std::int64_t& ns);

}  // namespace e3::services
