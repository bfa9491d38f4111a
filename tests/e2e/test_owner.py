"""The brokerage owner's journeys: sign in, rebrand the platform, invite an agent (who then joins through the
e-mailed link), read the dashboard and download the team report as a PDF."""

import re

from playwright.sync_api import expect

OWNER = "owner@palmcrest.ae"


def _brand_variable(page, name: str) -> str:
    return page.evaluate("name => getComputedStyle(document.documentElement).getPropertyValue(name).trim()", name)


def test_owner_signs_in_and_rebrands_the_platform(page, login):
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    page.get_by_label("Email").fill(OWNER)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("correct email")

    login(OWNER)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Brand Management").click()
    expect(page.get_by_role("heading", name="Brand management")).to_be_visible()
    page.get_by_label("Primary colour").fill("#7a1f5c")
    page.get_by_label("Secondary colour").fill("#2a9d8f")
    page.get_by_role("button", name="Save branding").click()

    expect(page.locator(".messages")).to_contain_text("Branding saved and applied.")
    assert _brand_variable(page, "--brand-primary").lower() == "#7a1f5c"
    expect(page.get_by_label("Preview")).to_contain_text(re.compile("Primary #7a1f5c", re.IGNORECASE))
    # Every page of the brokerage wears the new colours, not just the preview.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    expect(page).to_have_url(re.compile(r"/analytics/$"))
    topbar = page.locator("header.topbar")
    expect(topbar).to_have_css("background-color", "rgb(122, 31, 92)")
    expect(topbar).to_have_css("border-bottom-color", "rgb(42, 157, 143)")


def test_owner_invites_an_agent_who_joins_through_the_emailed_link(page, login, server):
    email, name = "noor.e2e@palmcrest.ae", "Noor Rahimi"
    login(OWNER)
    page.goto("/brokerage/team/")
    invite = page.locator("details.invite")
    invite.get_by_text("Invite a member").click()
    invite.get_by_label("Email", exact=True).fill(email)
    invite.get_by_label("Full name").fill(name)
    invite.get_by_label("Role").select_option(label="Agent")
    invite.get_by_label("Agent licence (BRN)").fill("BRN-60412")
    invite.get_by_role("button", name="Send invitation").click()

    expect(page.locator("#team .messages")).to_contain_text(f"Invitation sent to {email}.")
    row = page.locator("#members tr", has_text=email)
    expect(row).to_contain_text(name)
    expect(row).to_contain_text("Invited")

    # The console e-mail backend writes the invitation to the server's output.
    mail = server.wait_for_mail(to=email)
    assert "Subject: You're invited to Palm Crest Realty" in mail
    link = re.search(r"http://127\.0\.0\.1:\d+/accounts/password-reset/\S+/", mail)
    assert link, f"no sign-up link in the invitation:\n{mail[:2000]}"

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(link.group(0))
    expect(page.get_by_role("heading", name="Choose your password")).to_be_visible()
    page.get_by_label("New password", exact=True).fill("Desert-Rose-2026")
    page.get_by_label("New password confirmation").fill("Desert-Rose-2026")
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("heading", name="Your password is set")).to_be_visible()
    login(email, "Desert-Rose-2026")
    expect(page.locator(".who")).to_contain_text(name)
    expect(page.locator(".role-badge")).to_have_text("Agent")


def test_owner_reads_the_dashboard_and_downloads_the_team_report(page, login):
    login(OWNER)
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Dashboard").click()
    figures = page.get_by_role("region", name="Key figures")
    expect(figures.locator(".kpi-card")).to_have_count(6)
    leads = figures.locator("#kpi-leads_generated")
    expect(leads.locator(".kpi-label")).to_have_text("Leads generated")
    # The demo's month brings in leads, so the figure is a positive count, with last period's beside it.
    expect(leads.locator(".kpi")).to_have_text(re.compile(r"^[1-9][\d,]*$"))
    expect(leads.locator(".kpi-change")).to_contain_text(re.compile(r"vs [\d,]+"))
    expect(figures.locator("#kpi-conversion_rate .kpi")).to_have_text(re.compile(r"^\d+(\.\d)?%$"))
    expect(figures.locator("#kpi-commission_earned .kpi")).to_have_text(re.compile(r"^AED [1-9][\d,]*$"))
    expect(page.locator("#attention tbody tr").first).to_be_visible()

    nav.get_by_role("link", name="Reports").click()
    team_report = page.locator("#team-report")
    with page.expect_download() as pending:
        team_report.get_by_role("link", name="Download PDF").click()
    download = pending.value
    assert download.failure() is None
    assert re.fullmatch(r"palm-crest-team-.*\.pdf", download.suggested_filename), download.suggested_filename
    content = open(download.path(), "rb").read()
    assert content.startswith(b"%PDF-")
    assert content.rstrip().endswith(b"%%EOF")
    assert 20_000 < len(content) < 5_000_000, len(content)
