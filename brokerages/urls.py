from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views
from . import views_exports
from . import views_keys
from . import views_webhooks

brokerage_patterns = [
    path("profile/", views.profile, name="profile"),
    path("settings/", views.settings_page, name="settings"),
    path("branding/", views.branding, name="branding"),
    path("branding/assets/", views.brand_asset_upload, name="brand_asset_upload"),
    path("branding/assets/<int:pk>/toggle/", views.brand_asset_toggle, name="brand_asset_toggle"),
    path("team/", views.team, name="team"),
    path("team/invite/", views.team_invite, name="team_invite"),
    path("team/<int:pk>/role/", views.team_member_role, name="team_member_role"),
    path("team/<int:pk>/active/", views.team_member_active, name="team_member_active"),
    path("compliance/", views.audit_log, name="audit_log"),
    *views_webhooks.urlpatterns,
    path("api-keys/", views_keys.api_keys, name="api_keys"),
    path("api-keys/new/", views_keys.api_key_create, name="api_key_create"),
    path("api-keys/<int:pk>/revoke/", views_keys.api_key_revoke, name="api_key_revoke"),
    *views_exports.urlpatterns,
]

auth_patterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("password-reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("password-reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(),
         name="password_reset_confirm"),
    path("password-reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("account/", views.account, name="account"),
    path("account/token/", views.account_token_create, name="account_token_create"),
    path("account/token/revoke/", views.account_token_revoke, name="account_token_revoke"),
    path("accounts/", include(auth_patterns)),
    path("brokerage/", include((brokerage_patterns, "brokerages"))),
]
