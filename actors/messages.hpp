// The CAF message vocabulary of the runtime: atoms and the types actors exchange inside one
// process (internal to actors/; includes CAF).
#pragma once

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include "actors/node_host.hpp"
#include "actors/runtime.hpp"

namespace e3::rt {

using tick_atom = caf::atom_constant<caf::atom("tick")>;        ///< agent: time for a health report
using deploy_atom = caf::atom_constant<caf::atom("deploy")>;    ///< agent: install a plan
using promote_atom = caf::atom_constant<caf::atom("promote")>;  ///< agent: a backup takes over
using place_atom = caf::atom_constant<caf::atom("place")>;      ///< controller: place an app
using health_atom = caf::atom_constant<caf::atom("health")>;    ///< controller: latest reports
using flush_atom = caf::atom_constant<caf::atom("flush")>;      ///< instance: group commit now
using deliver_atom = caf::atom_constant<caf::atom("deliver")>;  ///< agent: a message is due now
using kind_atom = caf::atom_constant<caf::atom("kindok")>;      ///< agent: can you run this kind?
using hold_atom = caf::atom_constant<caf::atom("hold")>;        ///< agent: hold an instance's messages
using stop_atom = caf::atom_constant<caf::atom("stop")>;        ///< agent/instance: stop (commit first)
using export_atom = caf::atom_constant<caf::atom("export")>;    ///< agent: export an instance's state
using import_atom = caf::atom_constant<caf::atom("import")>;    ///< agent: import an instance's state
using start_atom = caf::atom_constant<caf::atom("start")>;      ///< agent: start an instance here
using release_atom = caf::atom_constant<caf::atom("release")>;  ///< agent: forward held messages
using move_atom = caf::atom_constant<caf::atom("move")>;        ///< agent: routing table update
using drop_atom = caf::atom_constant<caf::atom("dropstate")>;   ///< agent: forget an instance's state
using fail_atom = caf::atom_constant<caf::atom("failheld")>;    ///< agent: report held messages lost
using migrate_atom = caf::atom_constant<caf::atom("migrate")>;  ///< controller: migrate (operator)
using migrations_atom = caf::atom_constant<caf::atom("migs")>;  ///< controller: finished migrations
using down_atom = caf::atom_constant<caf::atom("srvdown")>;     ///< controller: a server went down

}  // namespace e3::rt

// Local-only message types (never serialised by CAF: frames between nodes use wire.hpp).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(e3::rt::inbound)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(e3::rt::node_plan)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(e3::rt::health_report)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(e3::rt::deployment)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(e3::sched::app_spec)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<e3::rt::health_report>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(e3::rt::migration_report)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<e3::rt::migration_report>)
