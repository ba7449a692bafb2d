"""A merchant back-end written with Python's standard gRPC client (grpcio).

Compiles the project's .proto files, drives a short session against a running
api-server, and prints what it saw as one JSON object, so the Rust test can
compare it with the engine's own view. Exits non-zero on any surprise.

usage: client.py TARGET TOKEN PROTO_DIR SKU
"""

import json
import os
import sys
import tempfile

import grpc
import grpc_tools
from grpc_status import rpc_status
from grpc_tools import protoc
from google.rpc import error_details_pb2


def compile_protos(proto_dir, out_dir):
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    files = [os.path.join("flashsale", "v1", name)
             for name in ("inventory.proto", "reservation.proto")]
    code = protoc.main(["protoc", f"-I{proto_dir}", f"-I{well_known}",
                        f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", *files])
    if code != 0:
        sys.exit(f"protoc failed with {code}")
    sys.path.insert(0, out_dir)


def error_info(error):
    """The google.rpc.ErrorInfo of a refused call: its reason and metadata."""
    status = rpc_status.from_call(error)
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason, dict(info.metadata)
    return None, {}


def reason_of(error):
    return error_info(error)[0]


def main():
    target, token, proto_dir, sku = sys.argv[1:5]
    out_dir = tempfile.mkdtemp(prefix="flashsale-py-")
    compile_protos(proto_dir, out_dir)
    from flashsale.v1 import inventory_pb2, inventory_pb2_grpc
    from flashsale.v1 import reservation_pb2, reservation_pb2_grpc

    auth = [("authorization", f"Bearer {token}")]
    with grpc.insecure_channel(target) as channel:
        inventory = inventory_pb2_grpc.InventoryServiceStub(channel)
        reservations = reservation_pb2_grpc.ReservationServiceStub(channel)
        seen = {}

        created = inventory.CreateProduct(inventory_pb2.CreateProductRequest(
            sku=sku, name="Python-made product", price_cents=999, total=3,
            per_customer_limit=0, hold_seconds=60), metadata=auth)
        seen["created"] = {"sku": created.sku, "total": created.total,
                           "available": created.available, "version": created.version}

        request = reservation_pb2.ReserveRequest(
            sku=sku, quantity=2, customer_id="py-shopper", request_id="py-1")
        first = reservations.Reserve(request, metadata=auth)
        replay = reservations.Reserve(request, metadata=auth)
        seen["reserve"] = {"id": first.reservation.id, "available": first.available,
                           "state": reservation_pb2.HoldState.Name(first.reservation.state),
                           "replay_same_id": replay.reservation.id == first.reservation.id,
                           "replayed": replay.replayed}

        try:
            reservations.Reserve(reservation_pb2.ReserveRequest(
                sku=sku, quantity=2, customer_id="py-other", request_id="py-2"), metadata=auth)
            sys.exit("an oversell was granted")
        except grpc.RpcError as error:
            seen["sold_out"] = {"code": error.code().name, "reason": reason_of(error)}

        # A cart whose second line cannot be held holds nothing; one whose
        # lines all can holds them all.
        for other in ("B", "C"):
            inventory.CreateProduct(inventory_pb2.CreateProductRequest(
                sku=f"{sku}-{other}", name="Python-made cart product", price_cents=100,
                total=5, per_customer_limit=0, hold_seconds=60), metadata=auth)
        line = reservation_pb2.CartLine
        try:
            reservations.ReserveCart(reservation_pb2.ReserveCartRequest(
                lines=[line(sku=f"{sku}-B", quantity=2), line(sku=sku, quantity=2)],
                customer_id="py-shopper", request_id="py-cart-1"), metadata=auth)
            sys.exit("a cart with a sold-out line was granted")
        except grpc.RpcError as error:
            reason, metadata = error_info(error)
            seen["cart_refused"] = {"code": error.code().name, "reason": reason,
                                    "sku": metadata.get("sku")}
        cart = reservations.ReserveCart(reservation_pb2.ReserveCartRequest(
            lines=[line(sku=f"{sku}-B", quantity=2), line(sku=f"{sku}-C", quantity=1)],
            customer_id="py-shopper", request_id="py-cart-2"), metadata=auth)
        seen["cart"] = [{"id": held.reservation.id, "available": held.available,
                         "state": reservation_pb2.HoldState.Name(held.reservation.state)}
                        for held in cart.lines]

        try:
            inventory.GetProduct(inventory_pb2.GetProductRequest(sku=sku))
            sys.exit("a call without a token was served")
        except grpc.RpcError as error:
            seen["no_token"] = {"code": error.code().name}

        confirmed = reservations.ConfirmReservation(
            reservation_pb2.ConfirmReservationRequest(id=first.reservation.id), metadata=auth)
        seen["confirmed"] = reservation_pb2.HoldState.Name(confirmed.state)

        product = inventory.GetProduct(inventory_pb2.GetProductRequest(sku=sku), metadata=auth)
        seen["product"] = {"available": product.available, "held": product.held,
                           "sold": product.sold, "total": product.total,
                           "version": product.version}
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
