//! The 90-day expiry timeline: how many certificates expire in each of the next 13 weeks (and
//! a last partial one). The API has no such window, so this reads counts from the store, one
//! indexed range count per bar: never the rows themselves, however many there are.

use maud::{Markup, html};

use super::ConsoleState;
use super::error::ConsoleError;
use super::format::{DAY_MS, date};
use super::session::Session;
use crate::domain::{ExpiryWindow, Millis, ProjectId};
use crate::storage::{ListFilter, PageWindow};

/// Days the timeline covers.
const DAYS: i64 = 90;
/// Days per bar.
const BAR_DAYS: i64 = 7;

/// One bar: certificates expiring in `(from, to]`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bar {
    from: Millis,
    to: Millis,
    count: i64,
}

/// The bars from `now` to `now + 90 days`.
pub(super) async fn weeks(
    state: &ConsoleState,
    session: &Session,
    now: Millis,
) -> Result<Vec<Bar>, ConsoleError> {
    let project = ProjectId::parse(&session.project)
        .ok_or_else(|| ConsoleError::internal("session project id is malformed"))?;
    let end = now.saturating_add(DAYS * DAY_MS);
    let mut bars = Vec::new();
    let mut from = now;
    while from < end {
        let to = from.saturating_add(BAR_DAYS * DAY_MS).min(end);
        let filter = ListFilter {
            expiry: Some(ExpiryWindow {
                after: Some(from),
                up_to: Some(to),
            }),
            window: PageWindow {
                limit: Some(0),
                offset: 0,
            },
            ..ListFilter::default()
        };
        let page = state
            .app
            .store
            .list_certificates(&project, &filter)
            .await
            .map_err(ConsoleError::internal)?;
        bars.push(Bar {
            from,
            to,
            count: page.total,
        });
        from = to;
    }
    Ok(bars)
}

/// The timeline as an inline SVG bar chart (no script, no inline style) with a text summary.
pub(super) fn render(bars: &[Bar], now: Millis) -> Markup {
    const WIDTH: i64 = 910;
    const HEIGHT: i64 = 90;
    let max = bars.iter().map(|b| b.count).max().unwrap_or(0).max(1);
    let total: i64 = bars.iter().map(|b| b.count).sum();
    let step = WIDTH / i64::try_from(bars.len().max(1)).unwrap_or(1);
    html! {
        section.timeline aria-label="Expiry timeline" {
            h2 { "Next 90 days" }
            p {
                (total) " certificate(s) expire between " (date(now)) " and "
                (date(now.saturating_add(DAYS * DAY_MS))) ". "
                a href="/console/certificates?status=expiring" { "Show those expiring within 30 days" }
            }
            svg viewBox={ "0 0 " (WIDTH) " " (HEIGHT + 30) } role="img" aria-label="Certificates expiring per week" {
                line.axis x1="0" y1=(HEIGHT) x2=(WIDTH) y2=(HEIGHT) {}
                @for (i, bar) in bars.iter().enumerate() {
                    @let x = i64::try_from(i).unwrap_or(0) * step;
                    @let h = if bar.count == 0 { 0 } else { (bar.count * (HEIGHT - 16) / max).max(2) };
                    g {
                        title { (bar.count) " expiring " (date(bar.from)) " to " (date(bar.to)) }
                        rect.bar x=(x + 4) y=(HEIGHT - h) width=(step - 8) height=(h) {}
                        text.count x=(x + step / 2) y=(HEIGHT - h - 3) text-anchor="middle" { (bar.count) }
                        text.label x=(x + step / 2) y=(HEIGHT + 16) text-anchor="middle" { (date(bar.from)[5..]) }
                    }
                }
            }
        }
    }
}
