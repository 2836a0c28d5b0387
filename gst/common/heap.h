// Giving freed memory back to the system after sessions end.
#pragma once

namespace rtcmesh {

// A session's teardown frees megabytes spread over glibc's per-thread
// arenas, which keep them: RSS after a burst of sessions stayed at 8x its
// baseline. Asks for malloc_trim(0) once things are quiet (1 s after the last
// call), on a thread of its own so that no caller waits for it.
void release_freed_memory_soon();
// Starts that thread now (from a constructor: never first from a destructor,
// which may run while the process exits).
void prepare_freed_memory_release();

}  // namespace rtcmesh
