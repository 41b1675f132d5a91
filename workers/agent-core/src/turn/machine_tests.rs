//! Table tests of the turn machine.
