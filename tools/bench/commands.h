// The rtcmesh-bench commands; each returns the process exit status.
#pragma once

namespace bench {

int whip_first_frame(int argc, char** argv);
int fanout(int argc, char** argv);
int fanout_server(int argc, char** argv);   // hidden: started by fanout
int fanout_viewers(int argc, char** argv);  // hidden: started by fanout

}  // namespace bench
