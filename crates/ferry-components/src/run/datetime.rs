//! The `datetime.*` actions.
//!
//! A time input is RFC 3339 text (`2024-05-01T12:00:00Z`; a date and time without an offset,
//! or a date alone, is taken as UTC) or a number of milliseconds since the Unix epoch. A format
//! is a strftime pattern (`%Y-%m-%d %H:%M`) or one of the words `rfc3339`, `rfc2822`, `unix`
//! (whole seconds since the epoch, a number) and `unixMillis` (milliseconds, a number). Times
//! are written in UTC, as RFC 3339 unless a format is given.

use std::fmt::Write as _;

use chrono::format::{Item, ParseErrorKind, StrftimeItems};
use chrono::{DateTime, Months, NaiveDate, NaiveDateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::Value;

use super::inputs::kind;
use super::{ActionError, Inputs};

/// Runs `action`, or `None` when it is not a `datetime.*` action.
pub(super) fn run(action: &str, inputs: &Inputs) -> Option<Result<Value, ActionError>> {
    let result = match action {
        "datetime.now" => now(inputs),
        "datetime.format" => format(inputs),
        "datetime.parse" => parse(inputs),
        "datetime.add" => add(inputs),
        "datetime.diff" => diff(inputs),
        _ => return None,
    };
    Some(result)
}

fn now(inputs: &Inputs) -> Result<Value, ActionError> {
    let format = inputs.opt_text("format")?;
    write(Utc::now(), format.as_deref().unwrap_or("rfc3339"))
}

fn format(inputs: &Inputs) -> Result<Value, ActionError> {
    let time = time(inputs, "value")?;
    write(time, &inputs.text("format")?)
}

fn parse(inputs: &Inputs) -> Result<Value, ActionError> {
    let time = match inputs.opt_text("format")? {
        None => time(inputs, "value")?,
        Some(format) => parse_as(inputs, &format)?,
    };
    Ok(rfc3339(time))
}

fn add(inputs: &Inputs) -> Result<Value, ActionError> {
    let time = time(inputs, "value")?;
    let amount = inputs.number("amount")?;
    let unit = inputs.text("unit")?;
    let moved = match unit.as_str() {
        "months" => add_months(time, amount)?,
        "years" => add_months(time, amount * 12.0)?,
        _ => {
            let millis = amount * unit_millis(&unit, ADD_UNITS)? as f64;
            let delta = whole(millis.round())
                .and_then(TimeDelta::try_milliseconds)
                .ok_or_else(|| ActionError::input("amount", format!("{amount} is too large")))?;
            time.checked_add_signed(delta)
        }
    };
    moved.map(rfc3339).ok_or_else(|| {
        ActionError::input(
            "amount",
            format!("moves the time out of the range times can have ({amount} {unit})"),
        )
    })
}

const ADD_UNITS: &str = "milliseconds, seconds, minutes, hours, days, weeks, months or years";
const DIFF_UNITS: &str = "milliseconds, seconds, minutes, hours, days or weeks";

/// Calendar months: the day of the month is kept, or becomes the month's last day.
fn add_months(time: DateTime<Utc>, amount: f64) -> Result<Option<DateTime<Utc>>, ActionError> {
    let months = whole(amount)
        .and_then(|months| u32::try_from(months.unsigned_abs()).ok())
        .ok_or_else(|| {
            ActionError::input(
                "amount",
                format!("must be a whole number of months, got {amount}"),
            )
        })?;
    Ok(if amount < 0.0 {
        time.checked_sub_months(Months::new(months))
    } else {
        time.checked_add_months(Months::new(months))
    })
}

fn diff(inputs: &Inputs) -> Result<Value, ActionError> {
    let start = time(inputs, "start")?;
    let end = time(inputs, "end")?;
    let unit = inputs.opt_text("unit")?;
    let unit_nanos = i128::from(unit_millis(
        unit.as_deref().unwrap_or("seconds"),
        DIFF_UNITS,
    )?) * 1_000_000;
    let delta = end.signed_duration_since(start);
    let nanos = i128::from(delta.num_seconds()) * 1_000_000_000 + i128::from(delta.subsec_nanos());
    let (units, rest) = (nanos / unit_nanos, nanos % unit_nanos);
    let units = i64::try_from(units).unwrap_or(i64::MAX);
    if rest == 0 {
        return Ok(units.into());
    }
    let fraction = rest as f64 / unit_nanos as f64;
    Ok(serde_json::Number::from_f64(units as f64 + fraction).map_or(Value::Null, Value::Number))
}

/// Milliseconds in `unit`, one of `valid` (the list for the error message).
fn unit_millis(unit: &str, valid: &str) -> Result<i64, ActionError> {
    Ok(match unit {
        "milliseconds" => 1,
        "seconds" => 1_000,
        "minutes" => 60_000,
        "hours" => 3_600_000,
        "days" => 86_400_000,
        "weeks" => 604_800_000,
        other => {
            return Err(ActionError::input(
                "unit",
                format!("must be {valid}, got `{other}`"),
            ))
        }
    })
}

/// The time input `key`.
fn time(inputs: &Inputs, key: &str) -> Result<DateTime<Utc>, ActionError> {
    let value = inputs.required(key)?;
    let time = match value {
        Value::Number(n) => n.as_f64().and_then(from_millis),
        Value::String(text) => time_from_text(text.trim()),
        _ => None,
    };
    time.ok_or_else(|| {
        let shown = match value {
            Value::String(text) => format!("`{text}`"),
            other => kind(other).to_string(),
        };
        ActionError::input(
            key,
            format!(
                "expected an RFC 3339 time like 2024-05-01T12:00:00Z or milliseconds since \
                 the epoch, got {shown}"
            ),
        )
    })
}

fn time_from_text(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.to_utc());
    }
    if let Ok(millis) = text.parse::<f64>() {
        return from_millis(millis);
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|pattern| NaiveDateTime::parse_from_str(text, pattern).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|date| date.and_hms_opt(0, 0, 0))
        })
        .map(|naive| naive.and_utc())
}

fn from_millis(millis: f64) -> Option<DateTime<Utc>> {
    whole(millis.round()).and_then(DateTime::from_timestamp_millis)
}

/// `number` as an i64 when it is a whole number in range.
fn whole(number: f64) -> Option<i64> {
    let in_range = number.is_finite() && number.abs() < 9.2e18 && number.fract() == 0.0;
    in_range.then_some(number as i64)
}

/// The `value` input read with `format`.
fn parse_as(inputs: &Inputs, format: &str) -> Result<DateTime<Utc>, ActionError> {
    let mismatch = |error: &dyn std::fmt::Display| {
        ActionError::input("value", format!("is not {format}: {error}"))
    };
    match format {
        "rfc3339" => DateTime::parse_from_rfc3339(inputs.text("value")?.trim())
            .map(|time| time.to_utc())
            .map_err(|e| mismatch(&e)),
        "rfc2822" => DateTime::parse_from_rfc2822(inputs.text("value")?.trim())
            .map(|time| time.to_utc())
            .map_err(|e| mismatch(&e)),
        "unix" => from_millis(inputs.number("value")? * 1_000.0)
            .ok_or_else(|| mismatch(&"out of the range times can have")),
        "unixMillis" => from_millis(inputs.number("value")?)
            .ok_or_else(|| mismatch(&"out of the range times can have")),
        pattern => {
            strftime(pattern)?;
            parse_pattern(inputs.text("value")?.trim(), pattern).map_err(|e| {
                ActionError::input(
                    "value",
                    format!("does not match the format `{format}`: {e}"),
                )
            })
        }
    }
}

/// Text read with a strftime pattern; without an offset in the pattern the time is UTC, and
/// without a time of day it is midnight.
fn parse_pattern(text: &str, pattern: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    let not_enough = |e: &chrono::ParseError| e.kind() == ParseErrorKind::NotEnough;
    match DateTime::parse_from_str(text, pattern) {
        Err(e) if not_enough(&e) => {}
        zoned => return zoned.map(|time| time.to_utc()),
    }
    match NaiveDateTime::parse_from_str(text, pattern) {
        Err(e) if not_enough(&e) => {}
        naive => return naive.map(|naive| naive.and_utc()),
    }
    NaiveDate::parse_from_str(text, pattern).map(|date| date.and_time(Default::default()).and_utc())
}

/// The items of a strftime pattern, or an input error naming `format`.
fn strftime(pattern: &str) -> Result<Vec<Item<'_>>, ActionError> {
    let items: Vec<Item> = StrftimeItems::new(pattern).collect();
    if items.iter().any(|item| matches!(item, Item::Error)) {
        return Err(ActionError::input(
            "format",
            format!(
                "`{pattern}` is not rfc3339, rfc2822, unix, unixMillis or a valid strftime \
                 pattern"
            ),
        ));
    }
    Ok(items)
}

/// `time` written in `format`.
fn write(time: DateTime<Utc>, format: &str) -> Result<Value, ActionError> {
    match format {
        "rfc3339" => Ok(rfc3339(time)),
        "rfc2822" => rfc2822(time),
        "unix" => Ok(time.timestamp().into()),
        "unixMillis" => Ok(time.timestamp_millis().into()),
        pattern => {
            let items = strftime(pattern)?;
            let mut out = String::new();
            write!(out, "{}", time.format_with_items(items.iter())).map_err(|_| {
                ActionError::input("format", format!("`{pattern}` cannot write this time"))
            })?;
            Ok(out.into())
        }
    }
}

fn rfc3339(time: DateTime<Utc>) -> Value {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true).into()
}

/// RFC 2822 holds years 0 to 9999 only.
fn rfc2822(time: DateTime<Utc>) -> Result<Value, ActionError> {
    use chrono::Datelike as _;
    if (0..=9999).contains(&time.year()) {
        Ok(time.to_rfc2822().into())
    } else {
        Err(ActionError::input(
            "value",
            format!("year {} cannot be written as RFC 2822", time.year()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn call(action: &str, inputs: Value) -> Result<Value, ActionError> {
        run(action, &Inputs::from(inputs.as_object().unwrap().clone())).unwrap()
    }

    fn input_error(result: Result<Value, ActionError>) -> (String, String) {
        match result {
            Err(ActionError::Input { input, message }) => (input, message),
            other => panic!("expected an input error, got {other:?}"),
        }
    }

    #[test]
    fn unknown_actions_are_not_datetime_actions() {
        assert!(run("datetime.tomorrow", &Inputs::default()).is_none());
        assert!(run("hash.digest", &Inputs::default()).is_none());
    }

    #[test]
    fn now_is_rfc3339_in_utc_or_the_format_given() {
        let before = Utc::now().timestamp_millis();
        let text = call("datetime.now", json!({})).unwrap();
        let parsed = DateTime::parse_from_rfc3339(text.as_str().unwrap()).unwrap();
        assert!(text.as_str().unwrap().ends_with('Z'), "{text}");
        assert!(parsed.timestamp_millis() >= before);
        let millis = call("datetime.now", json!({"format": "unixMillis"})).unwrap();
        assert!(millis.as_i64().unwrap() >= before);
        let year = call("datetime.now", json!({"format": "%Y"})).unwrap();
        assert_eq!(year.as_str().unwrap().len(), 4);
    }

    #[test]
    fn format_writes_a_time_in_a_pattern_or_a_named_format() {
        let value = "2024-02-29T13:05:09.250+02:00";
        let cases = [
            ("%Y-%m-%d %H:%M:%S", json!("2024-02-29 11:05:09")),
            ("%d/%m/%Y", json!("29/02/2024")),
            ("rfc3339", json!("2024-02-29T11:05:09.250Z")),
            ("rfc2822", json!("Thu, 29 Feb 2024 11:05:09 +0000")),
            ("unix", json!(1709204709)),
            ("unixMillis", json!(1709204709250_i64)),
        ];
        for (format, expected) in cases {
            let out = call("datetime.format", json!({"value": value, "format": format}));
            assert_eq!(out.unwrap(), expected, "{format}");
        }
    }

    #[test]
    fn time_inputs_accept_milliseconds_and_times_without_an_offset_as_utc() {
        let cases = [
            json!(1709204709250_i64),
            json!("1709204709250"),
            json!("2024-02-29T11:05:09.25"),
            json!("2024-02-29 11:05:09.250"),
        ];
        for value in cases {
            let out = call(
                "datetime.format",
                json!({"value": value, "format": "rfc3339"}),
            );
            assert_eq!(out.unwrap(), json!("2024-02-29T11:05:09.250Z"), "{value}");
        }
        let date = call(
            "datetime.format",
            json!({"value": "2024-02-29", "format": "rfc3339"}),
        );
        assert_eq!(date.unwrap(), json!("2024-02-29T00:00:00Z"));
    }

    #[test]
    fn format_refuses_bad_times_and_formats() {
        let (input, message) = input_error(call(
            "datetime.format",
            json!({"value": "yesterday", "format": "%Y"}),
        ));
        assert_eq!(input, "value");
        assert!(message.contains("`yesterday`"), "{message}");
        let (input, _) = input_error(call(
            "datetime.format",
            json!({"value": 1e300, "format": "%Y"}),
        ));
        assert_eq!(input, "value");
        let (input, _) = input_error(call(
            "datetime.format",
            json!({"value": [], "format": "%Y"}),
        ));
        assert_eq!(input, "value");
        let (input, _) = input_error(call("datetime.format", json!({"value": 0, "format": "%Q"})));
        assert_eq!(input, "format");
        let (input, _) = input_error(call("datetime.format", json!({"value": 0})));
        assert_eq!(input, "format");
        let (input, _) = input_error(call("datetime.now", json!({"format": "%"})));
        assert_eq!(input, "format");
    }

    #[test]
    fn rfc2822_refuses_years_it_cannot_hold() {
        let far = call(
            "datetime.add",
            json!({"value": 0, "amount": 9000, "unit": "years"}),
        )
        .unwrap();
        let (input, message) = input_error(call(
            "datetime.format",
            json!({"value": far, "format": "rfc2822"}),
        ));
        assert_eq!(input, "value");
        assert!(message.contains("10970"), "{message}");
    }

    #[test]
    fn parse_reads_text_in_a_format_and_gives_rfc3339_utc() {
        let cases = [
            (
                json!("01/03/2024 14:30"),
                json!("%d/%m/%Y %H:%M"),
                "2024-03-01T14:30:00Z",
            ),
            (
                json!("2024-03-01 14:30 +0100"),
                json!("%Y-%m-%d %H:%M %z"),
                "2024-03-01T13:30:00Z",
            ),
            (
                json!("01.03.2024"),
                json!("%d.%m.%Y"),
                "2024-03-01T00:00:00Z",
            ),
            (
                json!("Fri, 1 Mar 2024 14:30:00 +0000"),
                json!("rfc2822"),
                "2024-03-01T14:30:00Z",
            ),
            (
                json!("2024-03-01T14:30:00-05:00"),
                json!("rfc3339"),
                "2024-03-01T19:30:00Z",
            ),
            (json!(1709303400), json!("unix"), "2024-03-01T14:30:00Z"),
            (
                json!("1709303400000"),
                json!("unixMillis"),
                "2024-03-01T14:30:00Z",
            ),
            (
                json!("2024-03-01T14:30:00.5+00:00"),
                json!(null),
                "2024-03-01T14:30:00.500Z",
            ),
        ];
        for (value, format, expected) in cases {
            let out = call("datetime.parse", json!({"value": value, "format": format}));
            assert_eq!(out.unwrap(), json!(expected), "{value} {format}");
        }
    }

    #[test]
    fn parse_refuses_text_that_does_not_match() {
        let (input, message) = input_error(call(
            "datetime.parse",
            json!({"value": "2024-13-01", "format": "%Y-%m-%d"}),
        ));
        assert_eq!(input, "value");
        assert!(message.contains("%Y-%m-%d"), "{message}");
        let (input, _) = input_error(call(
            "datetime.parse",
            json!({"value": "x", "format": "rfc2822"}),
        ));
        assert_eq!(input, "value");
        let (input, _) = input_error(call(
            "datetime.parse",
            json!({"value": "x", "format": "unix"}),
        ));
        assert_eq!(input, "value");
        let (input, _) = input_error(call(
            "datetime.parse",
            json!({"value": "x", "format": "%J"}),
        ));
        assert_eq!(input, "format");
        let (input, _) = input_error(call("datetime.parse", json!({})));
        assert_eq!(input, "value");
    }

    #[test]
    fn add_moves_a_time_by_fixed_units_either_way() {
        let value = "2024-03-01T00:00:00Z";
        let cases = [
            (1.5, "seconds", "2024-03-01T00:00:01.500Z"),
            (-90.0, "minutes", "2024-02-29T22:30:00Z"),
            (25.0, "hours", "2024-03-02T01:00:00Z"),
            (-1.0, "days", "2024-02-29T00:00:00Z"),
            (2.0, "weeks", "2024-03-15T00:00:00Z"),
            (250.0, "milliseconds", "2024-03-01T00:00:00.250Z"),
        ];
        for (amount, unit, expected) in cases {
            let out = call(
                "datetime.add",
                json!({"value": value, "amount": amount, "unit": unit}),
            );
            assert_eq!(out.unwrap(), json!(expected), "{amount} {unit}");
        }
    }

    #[test]
    fn add_months_follows_the_calendar() {
        let cases = [
            ("2024-01-31T10:00:00Z", 1, "months", "2024-02-29T10:00:00Z"),
            ("2024-03-31T10:00:00Z", -1, "months", "2024-02-29T10:00:00Z"),
            ("2024-01-15T10:00:00Z", 14, "months", "2025-03-15T10:00:00Z"),
            ("2024-02-29T10:00:00Z", 1, "years", "2025-02-28T10:00:00Z"),
        ];
        for (value, amount, unit, expected) in cases {
            let out = call(
                "datetime.add",
                json!({"value": value, "amount": amount, "unit": unit}),
            );
            assert_eq!(out.unwrap(), json!(expected), "{value} {amount} {unit}");
        }
    }

    #[test]
    fn add_refuses_bad_amounts_and_units() {
        let (input, message) = input_error(call(
            "datetime.add",
            json!({"value": 0, "amount": 1, "unit": "fortnights"}),
        ));
        assert_eq!(input, "unit");
        assert!(message.contains("months"), "{message}");
        let (input, _) = input_error(call(
            "datetime.add",
            json!({"value": 0, "amount": 0.5, "unit": "months"}),
        ));
        assert_eq!(input, "amount");
        for (amount, unit) in [
            (1e300, "days"),
            (1e12, "months"),
            (1e9, "years"),
            (-1e15, "seconds"),
        ] {
            let (input, _) = input_error(call(
                "datetime.add",
                json!({"value": 0, "amount": amount, "unit": unit}),
            ));
            assert_eq!(input, "amount", "{amount} {unit}");
        }
        let (input, _) = input_error(call("datetime.add", json!({"value": 0, "unit": "days"})));
        assert_eq!(input, "amount");
    }

    #[test]
    fn diff_gives_the_signed_time_between_in_a_unit() {
        let start = "2024-03-01T00:00:00Z";
        let cases = [
            ("2024-03-01T00:01:30Z", None, json!(90)),
            ("2024-03-01T00:01:30Z", Some("minutes"), json!(1.5)),
            ("2024-03-01T00:00:00.123Z", Some("milliseconds"), json!(123)),
            ("2024-02-29T12:00:00Z", Some("days"), json!(-0.5)),
            ("2024-03-15T00:00:00Z", Some("weeks"), json!(2)),
            ("2024-03-01T02:00:00Z", Some("hours"), json!(2)),
        ];
        for (end, unit, expected) in cases {
            let out = call(
                "datetime.diff",
                json!({"start": start, "end": end, "unit": unit}),
            );
            assert_eq!(out.unwrap(), expected, "{end} {unit:?}");
        }
    }

    #[test]
    fn diff_refuses_bad_times_and_units() {
        let (input, _) = input_error(call("datetime.diff", json!({"start": 0, "end": "x"})));
        assert_eq!(input, "end");
        let (input, _) = input_error(call("datetime.diff", json!({"end": 0})));
        assert_eq!(input, "start");
        let (input, message) = input_error(call(
            "datetime.diff",
            json!({"start": 0, "end": 0, "unit": "months"}),
        ));
        assert_eq!(input, "unit");
        assert!(message.contains("milliseconds"), "{message}");
    }
}
