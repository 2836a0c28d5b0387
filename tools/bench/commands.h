// The rtcmesh-bench commands; each returns the process exit status.
#pragma once

namespace bench {

int whip_first_frame(int argc, char** argv);
int join_first_frame(int argc, char** argv);  // POST /rtc (data channel) vs WebSocket, Chromium
int fanout(int argc, char** argv);
int fanout_server(int argc, char** argv);   // hidden: started by fanout
int fanout_viewers(int argc, char** argv);  // hidden: started by fanout and sfu
int sfu(int argc, char** argv);             // the fan-out measured through rtcsfu
int soak(int argc, char** argv);            // rtcmesh-server under churn, back to baseline?
int soak_player(int argc, char** argv);     // hidden: a WHEP player started by soak
int jitterbuffer(int argc, char** argv);
int mcu(int argc, char** argv);             // rtcmesh-server --mode mcu: CPU, fps, added latency
int cluster(int argc, char** argv);         // two nodes over Redis + NATS: a → b per packet
int data_rtt(int argc, char** argv);        // data channel round trip between two rtcmeshbin    // first-packet wait and NACKs: stock vs pass-through
// fanout_server also runs as `sfu-server` (hidden: started by sfu).

}  // namespace bench
