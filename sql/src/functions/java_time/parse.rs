//! Parsing text by a compiled pattern's items, strictly and optionally case-insensitively:
//! numbers (adjacent values included), texts, offsets and zones, into parsed fields.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::functions::zone_names;

use super::Locale;
use super::format::texts;
use super::pattern::{Field, Item, OFFSET_PATTERNS, SignStyle};
use super::zone::{Rules, Zone, offset_id, tz_named};

/// Fields parsed from text, with the zone if one was parsed.
#[derive(Debug, Clone, Default)]
pub(super) struct Parsed {
    pub(super) fields: BTreeMap<Field, i64>,
    pub(super) zone: Option<Zone>,
}

pub(super) struct ParseCtx<'a> {
    pub(super) text: &'a [char],
    pub(super) case_insensitive: bool,
    pub(super) locale: Locale,
}

impl ParseCtx<'_> {
    fn chars_equal(&self, a: char, b: char) -> bool {
        a == b
            || (self.case_insensitive
                && (a.to_uppercase().eq(b.to_uppercase()) || a.to_lowercase().eq(b.to_lowercase())))
    }

    fn matches_at(&self, pos: usize, s: &str) -> bool {
        let mut p = pos;
        for c in s.chars() {
            match self.text.get(p) {
                Some(&t) if self.chars_equal(t, c) => p += 1,
                _ => return false,
            }
        }
        true
    }
}

/// Sets a parsed field; a second, different value for a field is a parse error.
fn set_field(parsed: &mut Parsed, field: Field, value: i64) -> bool {
    match parsed.fields.insert(field, value) {
        Some(old) => old == value,
        None => true,
    }
}

/// Parses items from `pos`; the new position, or the error position.
pub(super) fn parse_items(
    items: &[Item],
    ctx: &ParseCtx<'_>,
    mut pos: usize,
    parsed: &mut Parsed,
) -> std::result::Result<usize, usize> {
    for item in items {
        pos = parse_item(item, ctx, pos, parsed)?;
    }
    Ok(pos)
}

fn digit_at(ctx: &ParseCtx<'_>, pos: usize) -> Option<i64> {
    ctx.text
        .get(pos)
        .and_then(|c| c.is_ascii_digit().then(|| c.to_digit(10)))
        .flatten()
        .map(|d| d as i64)
}

fn parse_number(
    ctx: &ParseCtx<'_>,
    position: usize,
    min: usize,
    max: usize,
    sign: SignStyle,
    subsequent: usize,
) -> std::result::Result<(i64, usize), usize> {
    let len = ctx.text.len();
    if position >= len {
        return Err(position);
    }
    let mut start = position;
    let (mut negative, mut positive) = (false, false);
    match ctx.text[start] {
        '+' => {
            // Strict: NORMAL refuses '+', EXCEEDS_PAD accepts it, NOT_NEGATIVE refuses.
            if sign != SignStyle::ExceedsPad {
                return Err(position);
            }
            positive = true;
            start += 1;
        }
        '-' => {
            if sign == SignStyle::NotNegative {
                return Err(position);
            }
            negative = true;
            start += 1;
        }
        _ => {}
    }
    let min_end = start + min;
    let mut eff_max = max + subsequent;
    let mut total: i64;
    let mut p;
    let mut pass = 0;
    loop {
        total = 0;
        p = start;
        let max_end = (start + eff_max).min(len);
        while p < max_end {
            match digit_at(ctx, p) {
                Some(d) => {
                    total = total.saturating_mul(10).saturating_add(d);
                    p += 1;
                }
                None => break,
            }
        }
        if p < min_end {
            return Err(position);
        }
        if subsequent > 0 && pass == 0 {
            let parse_len = p - start;
            eff_max = min.max(parse_len.saturating_sub(subsequent));
            pass = 1;
            continue;
        }
        break;
    }
    if negative {
        if total == 0 {
            return Err(position);
        }
        total = -total;
    } else if sign == SignStyle::ExceedsPad {
        let parse_len = p - start;
        if positive {
            if parse_len <= min {
                return Err(position);
            }
        } else if parse_len > min {
            return Err(position);
        }
    }
    Ok((total, p))
}

/// `OffsetIdPrinterParser.parse` (strict).
fn parse_offset(ctx: &ParseCtx<'_>, pos: usize, kind: usize, zero: &str) -> Option<(i32, usize)> {
    let len = ctx.text.len();
    if !zero.is_empty() {
        if pos == len {
            return None;
        }
        if ctx.matches_at(pos, zero) {
            return Some((0, pos + zero.chars().count()));
        }
    } else if pos == len {
        return Some((0, pos));
    }
    let pattern = OFFSET_PATTERNS[kind.min(OFFSET_PATTERNS.len() - 1)];
    let colon = pattern.contains(':');
    let sign = match ctx.text.get(pos) {
        Some('+') => 1,
        Some('-') => -1,
        _ => return zero.is_empty().then_some((0, pos)),
    };
    let mut at = pos + 1;
    let two = |at: usize| -> Option<i32> {
        let (a, b) = (digit_at(ctx, at)?, digit_at(ctx, at + 1)?);
        let v = (a * 10 + b) as i32;
        (v <= 59).then_some(v)
    };
    let hours = two(at)?;
    at += 2;
    let part = |at: &mut usize, mandatory: bool| -> Option<Option<i32>> {
        let mut p = *at;
        if colon {
            if ctx.text.get(p) != Some(&':') {
                return if mandatory { None } else { Some(None) };
            }
            p += 1;
        }
        match two(p) {
            Some(v) => {
                *at = p + 2;
                Some(Some(v))
            }
            None if mandatory => None,
            None => Some(None),
        }
    };
    let (mut minutes, mut seconds) = (0, 0);
    match kind {
        0 => {}
        1 | 2 => minutes = part(&mut at, false)?.unwrap_or(0),
        3 | 4 => minutes = part(&mut at, true)?.unwrap_or(0),
        5 | 6 => {
            minutes = part(&mut at, true)?.unwrap_or(0);
            seconds = part(&mut at, false)?.unwrap_or(0);
        }
        7 | 8 => {
            minutes = part(&mut at, true)?.unwrap_or(0);
            seconds = part(&mut at, true)?.unwrap_or(0);
        }
        _ => {
            if let Some(m) = part(&mut at, false)? {
                minutes = m;
                seconds = part(&mut at, false)?.unwrap_or(0);
            }
        }
    }
    if hours > 23 {
        return None;
    }
    Some((sign * (hours * 3600 + minutes * 60 + seconds), at))
}

/// Region ids by length, longest first, for matching a zone id in text.
fn zone_ids() -> &'static [&'static str] {
    static IDS: OnceLock<Vec<&'static str>> = OnceLock::new();
    IDS.get_or_init(|| {
        let mut ids: Vec<&'static str> =
            chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
        ids.sort_by_key(|id| std::cmp::Reverse(id.len()));
        ids
    })
}

fn parsed_zone_names() -> &'static [(&'static str, &'static str, &'static str)] {
    static NAMES: OnceLock<Vec<(&'static str, &'static str, &'static str)>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names: Vec<(&'static str, &'static str, &'static str)> = zone_names::PARSED_NAMES
            .lines()
            .filter_map(|l| {
                let mut parts = l.split(' ');
                Some((parts.next()?, parts.next()?, parts.next()?))
            })
            .collect();
        names.sort_by_key(|(name, ..)| std::cmp::Reverse(name.len()));
        names
    })
}

/// `ZoneIdPrinterParser.parse` (and, with `names`, `ZoneTextPrinterParser`).
fn parse_zone(ctx: &ParseCtx<'_>, pos: usize, names: bool) -> Option<(Zone, usize)> {
    let text = ctx.text;
    let next = *text.get(pos)?;
    if next == '+' || next == '-' {
        let (offset, end) = parse_offset(ctx, pos, 6, "")?;
        return (end > pos).then(|| (Zone::fixed(offset), end));
    }
    for prefix in ["UTC", "GMT", "UT"] {
        if ctx.matches_at(pos, prefix) {
            let after = pos + prefix.len();
            if prefix == "GMT" && text.get(after) == Some(&'0') {
                return Some((Zone::parse("GMT0").ok()?, after + 1));
            }
            if matches!(text.get(after), Some('+' | '-'))
                && let Some((offset, end)) = parse_offset(ctx, after, 6, "")
                && end > after
            {
                let id = if offset == 0 {
                    prefix.to_string()
                } else {
                    format!("{prefix}{}", offset_id(offset))
                };
                return Some((
                    Zone {
                        id,
                        rules: Rules::Fixed(offset),
                    },
                    end,
                ));
            }
            // "UTC" before a region id such as "UTC/..." is still the prefix zone.
            let longer = zone_ids()
                .iter()
                .find(|id| id.len() > prefix.len() && ctx.matches_at(pos, id));
            if longer.is_none() {
                return Some((Zone::parse(prefix).ok()?, after));
            }
        }
    }
    if let Some(id) = zone_ids().iter().find(|id| ctx.matches_at(pos, id)) {
        let mut end = pos + id.len();
        let mut best = Zone::parse(id).ok()?;
        if names
            && let Some((name, root, english)) = parsed_zone_names()
                .iter()
                .find(|(name, ..)| name.len() > id.len() && ctx.matches_at(pos, name))
        {
            let target = if ctx.locale == Locale::Root {
                root
            } else {
                english
            };
            if let Some(tz) = tz_named(target) {
                best = Zone {
                    id: target.to_string(),
                    rules: Rules::Tz(tz),
                };
                end = pos + name.len();
            }
        }
        return Some((best, end));
    }
    if names
        && let Some((name, root, english)) = parsed_zone_names()
            .iter()
            .find(|(name, ..)| ctx.matches_at(pos, name))
    {
        let target = if ctx.locale == Locale::Root {
            root
        } else {
            english
        };
        let zone = if let Some(tz) = tz_named(target) {
            Zone {
                id: target.to_string(),
                rules: Rules::Tz(tz),
            }
        } else {
            Zone::parse(target).ok()?
        };
        return Some((zone, pos + name.chars().count()));
    }
    if ctx.chars_equal(next, 'Z') {
        return Some((Zone::utc(), pos + 1));
    }
    None
}

fn parse_item(
    item: &Item,
    ctx: &ParseCtx<'_>,
    pos: usize,
    parsed: &mut Parsed,
) -> std::result::Result<usize, usize> {
    match item {
        Item::Literal(text) => {
            if ctx.matches_at(pos, text) {
                Ok(pos + text.chars().count())
            } else {
                Err(pos)
            }
        }
        Item::Number {
            field,
            min,
            max,
            sign,
            subsequent,
        } => {
            let (value, end) = parse_number(ctx, pos, *min, *max, *sign, *subsequent)?;
            if !set_field(parsed, *field, value) {
                return Err(pos);
            }
            Ok(end)
        }
        Item::Reduced { field, subsequent } => {
            let (value, end) = parse_number(ctx, pos, 2, 2, SignStyle::NotNegative, *subsequent)?;
            let value = if end - pos == 2 && value >= 0 {
                let v = 2000 + value;
                if v < 2000 { v + 100 } else { v }
            } else {
                value
            };
            if !set_field(parsed, *field, value) {
                return Err(pos);
            }
            Ok(end)
        }
        Item::Fraction { width } => {
            let min_end = pos + width;
            if min_end > ctx.text.len() {
                return Err(pos);
            }
            let mut total: i64 = 0;
            for p in pos..min_end {
                total = total * 10 + digit_at(ctx, p).ok_or(pos)?;
            }
            let nanos = total * 10i64.pow(9u32.saturating_sub(*width as u32))
                / if *width > 9 {
                    10i64.pow(*width as u32 - 9)
                } else {
                    1
                };
            if !set_field(parsed, Field::NanoOfSecond, nanos) {
                return Err(pos);
            }
            Ok(min_end)
        }
        Item::Text { field, style } => {
            let (base, names) = texts(*field, *style, ctx.locale).ok_or(pos)?;
            let mut candidates: Vec<(usize, &str)> = names.iter().copied().enumerate().collect();
            candidates.sort_by_key(|(_, n)| std::cmp::Reverse(n.len()));
            for (i, name) in candidates {
                if ctx.matches_at(pos, name) {
                    if !set_field(parsed, *field, base + i as i64) {
                        return Err(pos);
                    }
                    return Ok(pos + name.chars().count());
                }
            }
            Err(pos)
        }
        Item::Offset { kind, zero } => {
            let (offset, end) = parse_offset(ctx, pos, *kind, zero).ok_or(pos)?;
            if !set_field(parsed, Field::OffsetSeconds, offset as i64) {
                return Err(pos);
            }
            Ok(end)
        }
        Item::LocalizedOffset { .. } => {
            if !ctx.matches_at(pos, "GMT") {
                return Err(pos);
            }
            let at = pos + 3;
            let sign = match ctx.text.get(at) {
                Some('+') => 1,
                Some('-') => -1,
                _ => {
                    set_field(parsed, Field::OffsetSeconds, 0);
                    return Ok(at);
                }
            };
            let mut p = at + 1;
            let mut hours = 0;
            let mut digits = 0;
            while digits < 2
                && let Some(d) = digit_at(ctx, p)
            {
                hours = hours * 10 + d;
                p += 1;
                digits += 1;
            }
            if digits == 0 {
                return Err(pos);
            }
            let mut minutes = 0;
            if ctx.text.get(p) == Some(&':')
                && let (Some(a), Some(b)) = (digit_at(ctx, p + 1), digit_at(ctx, p + 2))
            {
                minutes = a * 10 + b;
                p += 3;
            }
            if !set_field(
                parsed,
                Field::OffsetSeconds,
                sign * (hours * 3600 + minutes * 60),
            ) {
                return Err(pos);
            }
            Ok(p)
        }
        Item::ZoneId | Item::ZoneText { .. } => {
            let names = matches!(item, Item::ZoneText { .. });
            let (zone, end) = parse_zone(ctx, pos, names).ok_or(pos)?;
            parsed.zone = Some(zone);
            Ok(end)
        }
        Item::Optional(section) => {
            let mut attempt = parsed.clone();
            match parse_items(section, ctx, pos, &mut attempt) {
                Ok(end) => {
                    *parsed = attempt;
                    Ok(end)
                }
                Err(_) => Ok(pos),
            }
        }
    }
}
