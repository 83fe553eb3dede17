//! A browser, as far as Sluice can tell: it keeps the API's cookies (and honours `Max-Age=0`),
//! sends them back only to the API, and follows redirects one at a time so tests can look at
//! each hop (the OAuth dance goes API → provider → API).

use std::collections::BTreeMap;

use reqwest::{Response, header};

pub struct Browser {
    api_base: String,
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
    /// `Set-Cookie` headers seen, in order (tests check their attributes).
    pub set_cookie_log: Vec<String>,
}

impl Browser {
    pub fn new(api_base: &str) -> Self {
        Self {
            api_base: api_base.to_string(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: BTreeMap::new(),
            set_cookie_log: Vec::new(),
        }
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.into(), value.into());
    }

    pub fn remove_cookie(&mut self, name: &str) {
        self.cookies.remove(name);
    }

    /// A request to `url` (absolute, or a path on the API) with this browser's cookies.
    pub fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let absolute = if url.starts_with('/') {
            format!("{}{url}", self.api_base)
        } else {
            url.to_string()
        };
        let mut req = self.http.request(method, &absolute);
        if absolute.starts_with(&self.api_base) && !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.header(header::COOKIE, jar.join("; "));
        }
        req
    }

    /// Sends and keeps the cookies the answer sets.
    pub async fn send(&mut self, req: reqwest::RequestBuilder) -> Response {
        let response = req.send().await.expect("request");
        for value in response.headers().get_all(header::SET_COOKIE) {
            let raw = value.to_str().expect("ascii cookie").to_string();
            let (pair, attrs) = raw.split_once(';').unwrap_or((&raw, ""));
            let (name, value) = pair.split_once('=').expect("name=value");
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(name.trim());
            } else {
                self.cookies.insert(name.trim().into(), value.trim().into());
            }
            self.set_cookie_log.push(raw);
        }
        response
    }

    pub async fn get(&mut self, url: &str) -> Response {
        let req = self.request(reqwest::Method::GET, url);
        self.send(req).await
    }

    pub async fn post_form(&mut self, url: &str, fields: &[(&str, &str)]) -> Response {
        let req = self.request(reqwest::Method::POST, url).form(fields);
        self.send(req).await
    }

    /// Follows redirects from `response` until a page that is not one; returns it and the URL.
    pub async fn follow(&mut self, mut response: Response) -> (Response, String) {
        let mut url = response.url().to_string();
        for _ in 0..10 {
            if !response.status().is_redirection() {
                return (response, url);
            }
            let location = response
                .headers()
                .get(header::LOCATION)
                .expect("a redirect has a Location")
                .to_str()
                .unwrap()
                .to_string();
            url = if location.starts_with('/') {
                format!("{}{location}", self.api_base)
            } else {
                location
            };
            response = self.get(&url).await;
        }
        panic!("more than 10 redirects");
    }

    /// The value of the first `name="field"` hidden input on a page.
    pub fn hidden_field(html: &str, field: &str) -> Option<String> {
        let marker = format!("name=\"{field}\" value=\"");
        let start = html.find(&marker)? + marker.len();
        let end = html[start..].find('"')? + start;
        Some(html[start..end].to_string())
    }
}
