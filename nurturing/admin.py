"""The CRM's records in the Django admin, for system admins looking across brokerages (the middleware disables
tenant scoping under /admin/).

Read-only: listings and their photos are written by `nurturing.services.listings`, which keeps the permit rule,
the status transitions, the photo order and the audit log; the admin shows them and changes nothing.
"""

from django.contrib import admin

from brokerages.admin import ReadOnlyAdminMixin

from .models import Listing, ListingPhoto


class ListingPhotoInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ListingPhoto
    fields = ("position", "image", "caption", "uploaded_by", "created_at")
    readonly_fields = fields
    extra = 0


@admin.register(Listing)
class ListingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("title", "brokerage", "listing_agent", "community", "property_type", "purpose", "bedrooms",
                    "price", "status", "permit_number", "created_at")
    list_filter = ("status", "purpose", "property_type", "brokerage")
    list_select_related = ("brokerage", "listing_agent")
    search_fields = ("title", "community", "building", "permit_number", "listing_agent__email")
    date_hierarchy = "created_at"
    inlines = [ListingPhotoInline]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]
