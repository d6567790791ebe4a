from django.core.cache import cache
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views import generic

from .forms import AskForm
from .models import Question


def index(request):
    latest_question_list = Question.objects.order_by("-pub_date")[:5]
    context = {"latest_question_list": latest_question_list, "last_saved": cache.get("last_saved")}
    return render(request, "polls/index.html", context)


class DetailView(generic.DetailView):
    model = Question
    template_name = "polls/detail.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(note="a class-based view", **kwargs)


def ask(request):
    if request.method == "POST":
        form = AskForm(request.POST)
        if form.is_valid():
            Question.objects.create(question_text=form.cleaned_data["question_text"], pub_date=timezone.now())
            return HttpResponseRedirect(reverse("polls:index"))
    else:
        form = AskForm()
    return render(request, "polls/ask.html", {"form": form})


def hello(request):
    return HttpResponse("hello from polls")


def hits(request):
    """Counts in the process's memory (the local-memory cache): a reload keeps the count, a restart resets it."""
    count = cache.get("hits", 0) + 1
    cache.set("hits", count, None)
    return HttpResponse(str(count))
