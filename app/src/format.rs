//! Numbers as a person would write them: `612 ms`, `1.84 s`, `286 req/s`, `2.4%`.

/// A duration in seconds: milliseconds below one second, seconds above.
pub fn seconds(value: f64) -> String {
    if !value.is_finite() {
        return "–".into();
    }
    if value < 1.0 {
        let ms = value * 1000.0;
        if ms == 0.0 {
            "0 ms".into()
        } else if ms.abs() < 1.0 {
            // Two significant digits: 0.042 ms, not 0.0 ms.
            format!("{} ms", small(ms))
        } else if ms < 10.0 {
            format!("{ms:.1} ms")
        } else {
            format!("{ms:.0} ms")
        }
    } else if value < 10.0 {
        format!("{value:.2} s")
    } else if value < 100.0 {
        format!("{value:.1} s")
    } else {
        format!("{value:.0} s")
    }
}

/// A plain quantity with sensible precision (`0.42`, `4.2`, `42`, `4,200`).
pub fn number(value: f64) -> String {
    if !value.is_finite() {
        return "–".into();
    }
    let magnitude = value.abs();
    if magnitude == 0.0 {
        "0".into()
    } else if magnitude < 1.0 {
        small(value)
    } else if magnitude < 10.0 {
        let text = format!("{value:.1}");
        text.strip_suffix(".0").map_or(text.clone(), str::to_owned)
    } else {
        group_thousands(value.round() as i64)
    }
}

/// A size in bytes, in binary multiples written KB, MB, GB, TB.
pub fn bytes(value: f64) -> String {
    if !value.is_finite() {
        return "–".into();
    }
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut scaled = value;
    let mut unit = 0;
    while scaled.abs() >= 1024.0 && unit < UNITS.len() - 1 {
        scaled /= 1024.0;
        unit += 1;
    }
    format!("{} {}", number(scaled), UNITS[unit])
}

/// Requests per second.
pub fn rate(value: f64) -> String {
    format!("{} req/s", number(value))
}

/// A ratio (0–1) as a percentage with two significant digits at most.
pub fn percent(ratio: f64) -> String {
    if !ratio.is_finite() {
        return "–".into();
    }
    let percent = ratio * 100.0;
    if percent == 0.0 {
        "0%".into()
    } else if percent.abs() < 1.0 {
        format!("{}%", small(percent))
    } else if percent < 10.0 {
        format!("{percent:.1}%")
    } else {
        format!("{percent:.0}%")
    }
}

/// A value below one with two significant digits (`0.46`, `0.042`, `0.0042`), at most six
/// decimals: small values stay told apart (CPU of an idle replica is not `0.00`).
fn small(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude < 0.000_000_5 {
        return "0".into();
    }
    // 0.1–1 has two decimals, 0.01–0.1 three, and so on.
    let decimals = (1.0 - magnitude.log10().floor()).clamp(2.0, 6.0) as usize;
    format!("{value:.decimals$}")
}

fn group_thousands(value: i64) -> String {
    let digits = value.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if value < 0 {
        out.push('-');
    }
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A time of day, `HH:MM:SS`: in the browser's time zone when `local` (in the browser only),
/// else in UTC with the zone said (server rendering cannot know the viewer's zone).
pub fn time_of_day(ms: i64, local: bool) -> String {
    #[cfg(feature = "hydrate")]
    if local {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
        return format!(
            "{:02}:{:02}:{:02}",
            date.get_hours(),
            date.get_minutes(),
            date.get_seconds()
        );
    }
    let _ = local;
    let in_day = ms.rem_euclid(86_400_000);
    format!(
        "{:02}:{:02}:{:02} UTC",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60
    )
}

/// The civil date (year, month, day) of a day counted from 1970-01-01 (Howard Hinnant's
/// algorithm; proleptic Gregorian, any sign).
pub fn civil_date(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_switch_units() {
        assert_eq!(seconds(0.0042), "4.2 ms");
        assert_eq!(seconds(0.612), "612 ms");
        assert_eq!(seconds(1.844), "1.84 s");
        assert_eq!(seconds(61.0), "61.0 s");
        assert_eq!(seconds(f64::NAN), "–");
    }

    #[test]
    fn numbers_rates_and_percentages() {
        assert_eq!(number(0.0), "0");
        assert_eq!(number(0.456), "0.46");
        // Small values keep two significant digits, so neighbours stay apart.
        assert_eq!(number(0.0042), "0.0042");
        assert_eq!(number(0.0089), "0.0089");
        assert_eq!(number(0.042), "0.042");
        assert_eq!(number(0.000_000_1), "0");
        assert_eq!(seconds(0.000_042), "0.042 ms");
        assert_eq!(percent(0.000_031), "0.0031%");
        assert_eq!(number(3.0), "3");
        assert_eq!(number(3.26), "3.3");
        assert_eq!(number(4200.4), "4,200");
        assert_eq!(rate(286.2), "286 req/s");
        assert_eq!(percent(0.024), "2.4%");
        assert_eq!(percent(0.0012), "0.12%");
        assert_eq!(percent(0.5), "50%");
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(41_800.0), "41 KiB");
        assert_eq!(bytes(1.5 * 1024.0 * 1024.0 * 1024.0), "1.5 GiB");
    }
}
