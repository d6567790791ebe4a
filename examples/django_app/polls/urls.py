from django.urls import path

from . import views

app_name = "polls"
urlpatterns = [
    path("", views.index, name="index"),
    path("<int:pk>/", views.DetailView.as_view(), name="detail"),
    path("ask/", views.ask, name="ask"),
    path("hello/", views.hello, name="hello"),
    path("hits/", views.hits, name="hits"),
]
