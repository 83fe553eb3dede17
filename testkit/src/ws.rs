//! A WebSocket client for `GET /api/ws`, as an app would hold one: JSON frames out and in, and
//! the close code when the server ends the socket.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

/// What came off the socket.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    Frame(Value),
    /// The server closed it with this code and reason.
    Closed(u16, String),
    /// The connection ended without a close frame.
    Gone,
}

pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl WsClient {
    /// Opens `url` (`ws://…/api/ws[?token=…]`), with a bearer credential if given.
    pub async fn connect(url: &str, bearer: Option<&str>) -> Result<Self, String> {
        let authorization = bearer.map(|b| ("authorization", format!("Bearer {b}")));
        Self::connect_with(url, authorization.as_slice()).await
    }

    /// Opens `url` with these request headers (a browser's `Cookie` and `Origin`, say); the
    /// error names the HTTP status when the upgrade is refused.
    pub async fn connect_with(
        url: &str,
        headers: &[(&'static str, String)],
    ) -> Result<Self, String> {
        let mut request = url.into_client_request().map_err(|e| e.to_string())?;
        for (name, value) in headers {
            let value = HeaderValue::from_str(value).map_err(|e| e.to_string())?;
            request.headers_mut().insert(*name, value);
        }
        let (socket, _) = connect_async(request).await.map_err(|e| e.to_string())?;
        Ok(Self { socket })
    }

    pub async fn send(&mut self, frame: Value) {
        self.socket
            .send(Message::Text(frame.to_string().into()))
            .await
            .expect("send a frame");
    }

    /// The next frame or close, waiting at most `within`.
    pub async fn next(&mut self, within: Duration) -> Received {
        loop {
            let message = tokio::time::timeout(within, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("nothing on the socket within {within:?}"));
            match message {
                Some(Ok(Message::Text(text))) => {
                    return Received::Frame(serde_json::from_str(&text).expect("JSON frame"));
                }
                Some(Ok(Message::Close(frame))) => {
                    return frame.map_or(Received::Gone, |f| {
                        Received::Closed(f.code.into(), f.reason.to_string())
                    });
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Received::Gone,
            }
        }
    }

    /// The next frame, which must be one (not a close).
    pub async fn frame(&mut self) -> Value {
        match self.next(Duration::from_secs(20)).await {
            Received::Frame(frame) => frame,
            other => panic!("expected a frame, got {other:?}"),
        }
    }
}
