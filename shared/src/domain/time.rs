//! Time as the app reads it.

/// `epoch` (seconds) as RFC 3339 in UTC: `2026-11-25T10:40:00Z` (empty if out of range).
pub fn rfc3339(epoch: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(epoch)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_is_utc() {
        assert_eq!(super::rfc3339(1_764_067_200), "2025-11-25T10:40:00Z");
    }
}
