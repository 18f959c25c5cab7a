//! Moving the view's window: a custom range typed as UTC minutes, and steps back and forward in
//! time by the window's own width. Pure functions of the filter and the clock, so the toolbar and
//! its tests agree on every edge (the future, ranges that match a live window).

use crate::format::civil_date;
use crate::wire::{Filter, MAX_TIME_MS, TimeRange};

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

/// The window a filter shows at `now_ms`: its absolute range, or the live one ending now.
pub fn window(filter: &Filter, now_ms: i64) -> (i64, i64) {
    filter
        .absolute()
        .unwrap_or((now_ms - filter.range.duration_ms(), now_ms))
}

/// The filter one window earlier (always an absolute range).
pub fn step_back(filter: &Filter, now_ms: i64) -> Filter {
    let (from, to) = window(filter, now_ms);
    let width = to - from;
    let from = (from - width).max(0);
    with_window(filter, from, from + width)
}

/// The filter one window later, or `None` when the view already ends now (it is live). A step
/// that reaches now goes live again when the width is one of the live windows, and otherwise ends
/// at now.
pub fn step_forward(filter: &Filter, now_ms: i64) -> Option<Filter> {
    let (from, to) = filter.absolute()?;
    if to >= now_ms {
        return None;
    }
    let width = to - from;
    if to + width < now_ms {
        return Some(with_window(filter, from + width, to + width));
    }
    match TimeRange::ALL
        .into_iter()
        .find(|range| range.duration_ms() == width)
    {
        Some(range) => Some(Filter {
            from_ms: None,
            to_ms: None,
            range,
            ..filter.clone()
        }),
        None => Some(with_window(filter, now_ms - width, now_ms)),
    }
}

fn with_window(filter: &Filter, from_ms: i64, to_ms: i64) -> Filter {
    Filter {
        from_ms: Some(from_ms),
        to_ms: Some(to_ms),
        ..filter.clone()
    }
}

/// A time as the `datetime-local` inputs show it, in UTC: `YYYY-MM-DDTHH:MM`.
pub fn utc_minute(ms: i64) -> String {
    let (year, month, day) = civil_date(ms.div_euclid(DAY_MS));
    let in_day = ms.rem_euclid(DAY_MS);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}",
        in_day / 3_600_000,
        in_day / MINUTE_MS % 60
    )
}

/// Parses `YYYY-MM-DDTHH:MM` (seconds allowed, and a space for the `T`) as a UTC time, in Unix
/// milliseconds. `None` for anything else, an impossible date included.
pub fn parse_utc_minute(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, time) = text.split_once(['T', ' '])?;
    let mut date_parts = date.splitn(3, '-');
    let year: i64 = number(date_parts.next()?, 4)?;
    let month: i64 = number(date_parts.next()?, 2)?;
    let day: i64 = number(date_parts.next()?, 2)?;
    let mut time_parts = time.splitn(3, ':');
    let hour: i64 = number(time_parts.next()?, 2)?;
    let minute: i64 = number(time_parts.next()?, 2)?;
    let second: i64 = match time_parts.next() {
        Some(text) => number(text, 2)?,
        None => 0,
    };
    if !(1970..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    // An impossible day (February 30) comes back as another date.
    if day < 1 || civil_date(days) != (year, month, day) {
        return None;
    }
    let ms = days * DAY_MS + hour * 3_600_000 + minute * MINUTE_MS + second * 1000;
    (0..=MAX_TIME_MS).contains(&ms).then_some(ms)
}

/// Exactly `digits` ASCII digits.
fn number(text: &str, digits: usize) -> Option<i64> {
    (text.len() == digits && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm, the inverse of
/// [`civil_date`]).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// What a custom range form says: the filter to show, or why not.
pub fn custom_range(filter: &Filter, from: &str, to: &str, now_ms: i64) -> Result<Filter, String> {
    let from_ms = parse_utc_minute(from).ok_or("From is not a date and time")?;
    let to_ms = parse_utc_minute(to).ok_or("To is not a date and time")?;
    if from_ms >= to_ms {
        return Err("From must be before To".into());
    }
    if from_ms >= now_ms {
        return Err("From is in the future".into());
    }
    if to_ms - from_ms < MINUTE_MS {
        return Err("The range must be at least a minute".into());
    }
    Ok(with_window(filter, from_ms, to_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-12-03 14:00:00 UTC, worked out by hand: 20,790 days after 1970-01-01 (56 years of
    // 365 days = 20,440, plus 14 leap days 1972–2024, plus 336 days from January 1 to
    // December 3 in a common year) × 86,400 s + 14 h.
    const NOW: i64 = (20_790 * 86_400 + 14 * 3600) * 1000;

    #[test]
    fn utc_minutes_read_and_write_as_a_person_types_them() {
        assert_eq!(utc_minute(NOW), "2026-12-03T14:00");
        assert_eq!(parse_utc_minute("2026-12-03T14:00"), Some(NOW));
        assert_eq!(parse_utc_minute("2026-12-03 14:00:30"), Some(NOW + 30_000));
        assert_eq!(parse_utc_minute("1970-01-01T00:00"), Some(0));
        // 2024-02-29 exists, 2026-02-29 and April 31 do not.
        assert_eq!(
            parse_utc_minute("2024-02-29T00:00"),
            Some((19_782 * 86_400) * 1000)
        );
        for bad in [
            "2026-02-29T00:00",
            "2026-04-31T10:00",
            "2026-13-01T00:00",
            "2026-12-03T24:00",
            "2026-12-03",
            "26-12-03T14:00",
            "2026-12-03T14:0",
            "+026-12-03T14:00",
            "1969-12-31T23:59",
            "",
        ] {
            assert_eq!(parse_utc_minute(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_step_back_moves_one_window_earlier_and_forward_returns_to_live() {
        let live = Filter {
            range: TimeRange::Last1h,
            deployment: Some("chat-llm".into()),
            ..Filter::default()
        };
        let back = step_back(&live, NOW);
        assert_eq!(back.from_ms, Some(NOW - 2 * 3_600_000));
        assert_eq!(back.to_ms, Some(NOW - 3_600_000));
        assert_eq!(back.deployment.as_deref(), Some("chat-llm"));
        let twice = step_back(&back, NOW);
        assert_eq!(twice.to_ms, Some(NOW - 2 * 3_600_000));
        let forward = step_forward(&twice, NOW).expect("a past window steps forward");
        assert_eq!(forward, back);
        // From one window back, forward reaches now: the live hour again.
        let again = step_forward(&back, NOW).expect("steps to live");
        assert_eq!(again.absolute(), None);
        assert_eq!(again.range, TimeRange::Last1h);
        assert_eq!(step_forward(&live, NOW), None);
    }

    #[test]
    fn a_custom_width_stepped_into_now_ends_at_now() {
        let custom = Filter {
            from_ms: Some(NOW - 50 * MINUTE_MS),
            to_ms: Some(NOW - 20 * MINUTE_MS),
            ..Filter::default()
        };
        let forward = step_forward(&custom, NOW).expect("steps");
        assert_eq!(forward.absolute(), Some((NOW - 30 * MINUTE_MS, NOW)));
        assert_eq!(step_forward(&forward, NOW), None);
    }

    #[test]
    fn a_custom_range_is_checked_before_it_is_shown() {
        let filter = Filter::default();
        let ok = custom_range(&filter, "2026-12-03T12:00", "2026-12-03T13:30", NOW).unwrap();
        assert_eq!(ok.absolute(), Some((NOW - 2 * 3_600_000, NOW - 1_800_000)));
        assert!(custom_range(&filter, "2026-12-03T13:00", "2026-12-03T12:00", NOW).is_err());
        assert!(custom_range(&filter, "2026-12-04T13:00", "2026-12-04T15:00", NOW).is_err());
        assert!(custom_range(&filter, "yesterday", "2026-12-03T12:00", NOW).is_err());
        assert!(custom_range(&filter, "2026-12-03T12:00", "2026-12-03T12:00:30", NOW).is_err());
    }
}
