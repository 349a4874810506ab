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
using down_atom = caf::atom_constant<caf::atom("srvdown")>;     ///< controller: a server went down

}  // namespace e3::rt

// Local-only message types (never serialised by CAF: frames between nodes use wire.hpp).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(e3::rt::inbound)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(e3::rt::node_plan)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(e3::rt::health_report)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(e3::rt::deployment)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(e3::sched::app_spec)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<e3::rt::health_report>)
