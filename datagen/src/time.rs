//! Milliseconds since the Unix epoch, the v1 deployment timeline, and `toISOString()` text.

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
pub(crate) const fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Milliseconds since the epoch of a UTC date and time.
pub(crate) const fn ms(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> i64 {
    ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60_000 + s * 1000
}

pub(crate) const MINUTE: i64 = 60_000;
pub(crate) const HOUR: i64 = 60 * MINUTE;
pub(crate) const DAY: i64 = 24 * HOUR;

// The v1 commits that changed what was stored (commit time, UTC; the repository's log is -0800).
/// 6fcaf7d: initial version, items `version: 1`.
pub(crate) const T_V1: i64 = ms(2026, 2, 21, 20, 56, 35);
/// 78f11cd: `version: 2`, claiming, deliverables, events, validated statuses.
pub(crate) const T_V2: i64 = ms(2026, 2, 23, 18, 35, 8);
/// 83318ee: POST requires a repository URL.
pub(crate) const T_REPO_ONLY: i64 = ms(2026, 2, 23, 19, 5, 37);
/// b2dba32: `version: 3`, ratings.
pub(crate) const T_V3: i64 = ms(2026, 2, 23, 19, 14, 54);
/// 7ea2889: placeholder `githubData` (B).
pub(crate) const T_PLACEHOLDER: i64 = ms(2026, 2, 23, 19, 45, 46);
/// 886db1d: `version: 4`, goals (pushed).
pub(crate) const T_V4: i64 = ms(2026, 2, 23, 19, 51, 43);
/// 3387eb5: `githubData.homepage`.
pub(crate) const T_HOMEPAGE: i64 = ms(2026, 2, 23, 19, 56, 2);
/// be463a1: `version: 5`, mentions.
pub(crate) const T_V5: i64 = ms(2026, 2, 23, 20, 11, 43);
/// 2bee95a: mention match types `slug` and `site`.
pub(crate) const T_SLUG: i64 = ms(2026, 2, 23, 20, 20, 22);
/// 6eed93e: `version: 6`, leader.
pub(crate) const T_V6: i64 = ms(2026, 2, 23, 21, 20, 49);
/// 93b0c5a: goals are leader-only.
pub(crate) const T_LEADER_GOALS: i64 = ms(2026, 2, 23, 22, 27, 6);
/// 907dbd4: status derived from GitHub; `item.status_synced` replaces the retired types.
pub(crate) const T_DERIVED: i64 = ms(2026, 2, 23, 22, 53, 29);
/// 0e67032: `version: 7`, searchTerms, goalHistory, `ownerLogin`, merged-PR deliverables, archive.
pub(crate) const T_V7: i64 = ms(2026, 2, 24, 16, 49, 8);
/// 613a85d: `writeVersion`, `_notFound`, fail counters.
pub(crate) const T_WRITE_VERSION: i64 = ms(2026, 2, 24, 17, 31, 16);
/// c7ab454: `version: 10`, websites.
pub(crate) const T_V10: i64 = ms(2026, 2, 24, 19, 8, 42);
/// The end of the generated period (all timestamps fall in February–March 2026).
pub(crate) const T_END: i64 = ms(2026, 3, 31, 23, 59, 59) + 999;

/// The persisted items version written by the code deployed at `t`.
pub(crate) fn version_at(t: i64) -> u8 {
    match t {
        t if t >= T_V10 => 10,
        t if t >= T_V7 => 7,
        t if t >= T_V6 => 6,
        t if t >= T_V5 => 5,
        t if t >= T_V4 => 4,
        t if t >= T_V3 => 3,
        t if t >= T_V2 => 2,
        _ => 1,
    }
}

/// The period during which the code persisted `version` (`[start, end)`).
pub(crate) fn version_window(version: u8) -> (i64, i64) {
    match version {
        1 => (T_V1, T_V2),
        2 => (T_V2, T_V3),
        3 => (T_V3, T_V4),
        4 => (T_V4, T_V5),
        5 => (T_V5, T_V6),
        6 => (T_V6, T_V7),
        7 => (T_V7, T_V10),
        _ => (T_V10, T_END + 1),
    }
}

/// `new Date(ms).toISOString()`: `YYYY-MM-DDTHH:MM:SS.sssZ`.
pub(crate) fn iso(ms: i64) -> String {
    let days = ms.div_euclid(DAY);
    let rem = ms.rem_euclid(DAY);
    // civil_from_days
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, rem) = (rem / HOUR, rem % HOUR);
    let (mi, rem) = (rem / MINUTE, rem % MINUTE);
    let (s, milli) = (rem / 1000, rem % 1000);
    let mut out = String::with_capacity(24);
    push_num(&mut out, y, 4);
    out.push('-');
    push_num(&mut out, m, 2);
    out.push('-');
    push_num(&mut out, d, 2);
    out.push('T');
    push_num(&mut out, h, 2);
    out.push(':');
    push_num(&mut out, mi, 2);
    out.push(':');
    push_num(&mut out, s, 2);
    out.push('.');
    push_num(&mut out, milli, 3);
    out.push('Z');
    out
}

fn push_num(out: &mut String, n: i64, width: u32) {
    let mut div = 10i64.pow(width - 1);
    while div > 0 {
        out.push(char::from(b'0' + ((n / div) % 10) as u8));
        div /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_matches_to_iso_string() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(T_V1), "2026-02-21T20:56:35.000Z");
        assert_eq!(iso(T_END), "2026-03-31T23:59:59.999Z");
        assert_eq!(iso(ms(2024, 2, 29, 12, 0, 0) + 7), "2024-02-29T12:00:00.007Z");
        assert_eq!(version_at(T_V7 - 1), 6);
        assert_eq!(version_at(T_V10), 10);
    }
}
