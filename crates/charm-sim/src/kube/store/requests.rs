//! The answered requests, recorded in arrival order for the run's output.

use super::State;
use crate::kube::RecordedRequest;

impl State {
    pub fn record(&mut self, arrival: u64, r: RecordedRequest) {
        self.requests.insert(arrival, r);
    }

    /// The answered requests, in arrival order; requests still in flight stay for later.
    pub fn take_requests(&mut self) -> Vec<RecordedRequest> {
        std::mem::take(&mut self.requests).into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(path: &str) -> RecordedRequest {
        RecordedRequest {
            method: "GET".into(),
            path: path.into(),
            query: String::new(),
            status: 200,
            content_type: None,
            body: None,
        }
    }

    #[test]
    fn requests_are_listed_in_arrival_order() {
        let mut st = State::new();
        let (first, _) = st.arrive("GET", "/held");
        let (second, _) = st.arrive("GET", "/quick");
        // The held request is answered last, yet listed first.
        st.record(second, req("/quick"));
        st.record(first, req("/held"));
        let paths: Vec<String> = st.take_requests().into_iter().map(|r| r.path).collect();
        assert_eq!(paths, ["/held", "/quick"]);
        assert!(st.take_requests().is_empty());
    }
}
