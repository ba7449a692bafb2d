//! `ReservationService`: holds, on a shopper's behalf, for merchants'
//! back-ends. A merchant may act on any hold.

use flashsale_proto::v1 as pb;
use flashsale_proto::v1::reservation_service_server::ReservationService;
use reservation_core::{
    CartLine, CartRequest, CustomerId, Quantity, RequestId, Reservation, ReservationId,
    ReserveRequest, Sku,
};
use tonic::{Request, Response, Status};

use super::convert;
use super::status::{limited_status, to_status};
use crate::app::App;

pub struct ReservationApi {
    app: App,
}

impl ReservationApi {
    pub fn new(app: App) -> Self {
        Self { app }
    }

    fn answer(&self, hold: reservation_core::Hold) -> Response<pb::Reservation> {
        Response::new(convert::reservation(hold, self.app.engine.now_ms()))
    }

    fn reserved(&self, reservation: Reservation) -> pb::ReserveResponse {
        pb::ReserveResponse {
            reservation: Some(convert::reservation(
                reservation.hold,
                self.app.engine.now_ms(),
            )),
            available: reservation.available,
            replayed: reservation.replayed,
        }
    }
}

type Answer<T> = Result<Response<T>, Status>;

fn reservation_id(id: &str) -> Result<ReservationId, Status> {
    id.parse().map_err(to_status)
}

#[tonic::async_trait]
impl ReservationService for ReservationApi {
    async fn reserve(&self, request: Request<pb::ReserveRequest>) -> Answer<pb::ReserveResponse> {
        let address = request.remote_addr().map(|a| a.ip());
        let r = request.into_inner();
        let reserve = ReserveRequest {
            sku: Sku::new(r.sku).map_err(to_status)?,
            quantity: Quantity::new(r.quantity).map_err(to_status)?,
            customer_id: CustomerId::new(r.customer_id).map_err(to_status)?,
            request_id: RequestId::new(r.request_id).map_err(to_status)?,
        };
        self.app
            .limits
            .reserve(&reserve.customer_id, address, reserve.quantity.get())
            .map_err(limited_status)?;
        let reservation = self
            .app
            .call("reserve", self.app.reserves.reserve(reserve))
            .await
            .map_err(to_status)?;
        Ok(Response::new(self.reserved(reservation)))
    }

    async fn reserve_cart(
        &self,
        request: Request<pb::ReserveCartRequest>,
    ) -> Answer<pb::ReserveCartResponse> {
        let address = request.remote_addr().map(|a| a.ip());
        let r = request.into_inner();
        let cart = CartRequest {
            customer_id: CustomerId::new(r.customer_id).map_err(to_status)?,
            request_id: RequestId::new(r.request_id).map_err(to_status)?,
            lines: r
                .lines
                .into_iter()
                .map(|line| CartLine::new(line.sku, line.quantity))
                .collect::<reservation_core::Result<_>>()
                .map_err(to_status)?,
        };
        self.app
            .limits
            .reserve(&cart.customer_id, address, cart.units())
            .map_err(limited_status)?;
        let reservations = self
            .app
            .call("reserve_cart", self.app.engine.reserve_cart(&cart))
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ReserveCartResponse {
            lines: reservations
                .into_iter()
                .map(|reservation| self.reserved(reservation))
                .collect(),
        }))
    }

    async fn get_reservation(
        &self,
        request: Request<pb::GetReservationRequest>,
    ) -> Answer<pb::Reservation> {
        let id = reservation_id(&request.into_inner().id)?;
        let hold = self
            .app
            .call("get_reservation", self.app.engine.reservation(&id))
            .await
            .map_err(to_status)?;
        Ok(self.answer(hold))
    }

    async fn confirm_reservation(
        &self,
        request: Request<pb::ConfirmReservationRequest>,
    ) -> Answer<pb::Reservation> {
        let id = reservation_id(&request.into_inner().id)?;
        let transition = self
            .app
            .call("confirm", self.app.engine.confirm(&id, None))
            .await
            .map_err(to_status)?;
        Ok(self.answer(transition.hold))
    }

    async fn cancel_reservation(
        &self,
        request: Request<pb::CancelReservationRequest>,
    ) -> Answer<pb::Reservation> {
        let id = reservation_id(&request.into_inner().id)?;
        let transition = self
            .app
            .call("cancel", self.app.engine.cancel(&id, None))
            .await
            .map_err(to_status)?;
        Ok(self.answer(transition.hold))
    }

    async fn list_reservations(
        &self,
        request: Request<pb::ListReservationsRequest>,
    ) -> Answer<pb::ListReservationsResponse> {
        let r = request.into_inner();
        let customer = CustomerId::new(r.customer_id).map_err(to_status)?;
        let sku = (!r.sku.is_empty())
            .then(|| Sku::new(r.sku))
            .transpose()
            .map_err(to_status)?;
        let after = (!r.page_token.is_empty())
            .then(|| page_token(&r.page_token))
            .transpose()?;
        let page_size = match r.page_size {
            0 => DEFAULT_PAGE_SIZE,
            size => usize::try_from(size).unwrap_or(0),
        };
        let page = self
            .app
            .call(
                "list_reservations",
                self.app
                    .engine
                    .customer_holds(&customer, sku.as_ref(), after.as_ref(), page_size),
            )
            .await
            .map_err(to_status)?;
        let now = self.app.engine.now_ms();
        Ok(Response::new(pb::ListReservationsResponse {
            reservations: page
                .holds
                .into_iter()
                .map(|hold| convert::reservation(hold, now))
                .collect(),
            next_page_token: page
                .next_page_token
                .map(|id| id.to_string())
                .unwrap_or_default(),
        }))
    }
}

/// Holds on a page when the caller does not say.
pub const DEFAULT_PAGE_SIZE: usize = 20;

/// A page token is the id of the last hold of the page before.
fn page_token(token: &str) -> Result<ReservationId, Status> {
    token.parse().map_err(|_| {
        to_status(reservation_core::Error::InvalidArgument {
            field: "page_token",
            reason: "is not a token this server handed out".into(),
        })
    })
}
