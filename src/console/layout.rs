//! The frame of every console page: head, navigation, and the "Sign out" control.

use maud::{DOCTYPE, Markup, html};

/// What the frame of a signed-in page shows: the session's project and role, and the CSRF
/// token of its "Sign out" form. (The frame knows no more of a session, so error pages, which
/// have none, can use it too.)
pub(super) struct SignedIn<'a> {
    /// The session's project.
    pub(super) project: &'a str,
    /// Its role, as shown.
    pub(super) role: String,
    /// Its CSRF token.
    pub(super) csrf: &'a str,
}

/// A whole page titled `title` around `body`; signed-in pages get the navigation and a
/// "Sign out" button.
pub(super) fn page(title: &str, session: Option<&SignedIn<'_>>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · wafcert console" }
                link rel="stylesheet" href="/console/assets/console.css";
            }
            body {
                header.top {
                    span.brand { "wafcert" }
                    @if let Some(s) = session {
                        nav {
                            a href="/console/certificates" { "Certificates" }
                            a href="/console/hosts" { "Hosts" }
                        }
                        span.who {
                            "Project " code { (s.project) } " · " (s.role)
                        }
                        form.signout method="post" action="/console/signout" {
                            input type="hidden" name="csrf" value=(s.csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
                footer { "All dates and times are UTC." }
            }
        }
    }
}

/// A CSRF field for a form of the session whose CSRF token is `csrf`.
pub(super) fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

/// An error message from the API, shown next to its form.
pub(super) fn form_error(message: Option<&str>) -> Markup {
    html! {
        @if let Some(m) = message {
            p.error role="alert" { (m) }
        }
    }
}
