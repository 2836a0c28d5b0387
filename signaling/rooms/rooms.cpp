#include "signaling/rooms/rooms.h"

#include "signaling/log.h"
#include "signaling/rooms/service.h"
#include "signaling/rooms/store.h"
#include "signaling/rpc/front_end.h"

namespace rtcmesh::sig {

namespace {

constexpr int kFrontEndShift = 48;

// Notes to JSON-RPC connections, or to the front end whose numbers they carry.
class RoutingDelivery : public Delivery {
 public:
  explicit RoutingDelivery(rpc::JsonRpcDelivery& json) : json_(json) {}
  void deliver(ConnId conn, const msg::Note& note) override {
    ConnId base = conn >> kFrontEndShift << kFrontEndShift;
    if (base == 0) return json_.deliver(conn, note);
    auto it = others.find(base);
    if (it != others.end()) it->second->deliver(conn, note);
  }
  std::map<ConnId, Delivery*> others;  // by base

 private:
  rpc::JsonRpcDelivery& json_;
};

}  // namespace

// Wires the parts in the order they depend on each other.
struct RoomServer::Impl {
  Impl(Config c, Send send)
      : cfg(std::move(c)),
        delivery(std::move(send)),
        routing(delivery),
        service(cfg, store, routing),
        front(service, delivery, {cfg.max_message, cfg.max_batch}) {}

  Config cfg;
  MemoryStore store;
  rpc::JsonRpcDelivery delivery;
  RoutingDelivery routing;
  ConnId next_base = 1;
  RoomService service;
  rpc::JsonRpcFrontEnd front;
};

RoomServer::RoomServer(Config config, Send send)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(send))) {
  init_debug();
}

RoomServer::~RoomServer() = default;

void RoomServer::on_open(ConnId conn, Time now, bool authorized, const std::string& address) {
  impl_->service.open(conn, now, authorized, address);
}

void RoomServer::on_open_with_bearer(ConnId conn, Time now, const std::string& bearer,
                                     const std::string& address) {
  impl_->service.open_with_bearer(conn, now, bearer, address);
}

void RoomServer::on_message(ConnId conn, std::string_view text, Time now) {
  impl_->front.on_message(conn, text, now);
}

void RoomServer::on_alive(ConnId conn, Time now) {
  impl_->service.alive(conn, now);
}

void RoomServer::on_closed(ConnId conn) {
  impl_->service.closed(conn);
}

std::vector<ConnId> RoomServer::tick(Time now) {
  return impl_->service.tick(now);
}

bool RoomServer::create_room(const std::string& name, RoomMode mode) {
  return impl_->service.create_room(name, mode);
}

bool RoomServer::close_room(const std::string& name, const std::string& why) {
  return impl_->service.close_room(name, why);
}

void RoomServer::attach_sfu(const std::string& room, RoomMedia* media, SfuRoom::Limits limits) {
  impl_->service.sfu().attach(room, media, limits);
}

void RoomServer::detach_sfu(const std::string& room) {
  impl_->service.sfu().detach(room);
}

bool RoomServer::add_publisher(const std::string& room, const std::string& peer,
                               std::vector<SfuTrack> tracks, std::string* why, bool participant) {
  return impl_->service.sfu().add_publisher(room, peer, std::move(tracks), why, participant);
}

bool RoomServer::update_publisher(const std::string& room, const std::string& peer,
                                  std::vector<SfuTrack> tracks) {
  return impl_->service.sfu().update_publisher(room, peer, std::move(tracks));
}

void RoomServer::remove_publisher(const std::string& room, const std::string& peer,
                                  const std::string& reason) {
  impl_->service.sfu().remove_publisher(room, peer, reason);
}

void RoomServer::media_failed(const std::string& room, const std::string& peer,
                              const std::string& connection, const std::string& why) {
  impl_->service.sfu().media_failed(room, peer, connection, why);
}

std::vector<RoomServer::SfuRoomInfo> RoomServer::sfu_rooms() const {
  std::vector<SfuRoomInfo> out;
  for (const RoomRecord* r : impl_->store.all())
    if (r->sfu) out.push_back({r->name, r->sfu->publishers().size(), r->sfu->subscribers().size()});
  return out;
}

std::vector<SfuPublisher> RoomServer::sfu_publishers(const std::string& room) const {
  const RoomRecord* r = impl_->store.find(room);
  if (!r || !r->sfu) return {};
  return r->sfu->publishers();
}

std::vector<RoomServer::RoomInfo> RoomServer::rooms() const {
  std::vector<RoomInfo> out;
  for (const RoomRecord* r : impl_->store.all())
    out.push_back({r->name, r->mode, r->ordered(), r->persistent});
  return out;
}

std::optional<RoomServer::RoomInfo> RoomServer::room(const std::string& name) const {
  const RoomRecord* r = impl_->store.find(name);
  if (!r) return std::nullopt;
  return RoomInfo{name, r->mode, r->ordered(), r->persistent};
}

size_t RoomServer::connection_count() const {
  return impl_->service.connection_count();
}

std::optional<std::pair<std::string, std::string>> RoomServer::peer_of(ConnId conn) const {
  return impl_->service.peer_of(conn);
}

const RoomServer::Config& RoomServer::config() const {
  return impl_->cfg;
}

ConnId RoomServer::add_front_end(Delivery& delivery) {
  ConnId base = impl_->next_base++ << kFrontEndShift;
  impl_->routing.others[base] = &delivery;
  return base;
}

void RoomServer::remove_front_end(ConnId base) {
  impl_->routing.others.erase(base);
}

void RoomServer::drain_front_ends(const std::string& reason) {
  for (auto& [base, delivery] : impl_->routing.others) delivery->drain(reason);
}

RoomService& RoomServer::service() {
  return impl_->service;
}

}  // namespace rtcmesh::sig
