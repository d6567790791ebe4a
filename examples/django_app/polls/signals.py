from django.core.cache import cache
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import Question


@receiver(post_save, sender=Question, dispatch_uid="polls_question_saved")
def question_saved(sender, instance, created, **kwargs):
    if created:
        cache.set("last_saved", f"new question: {instance.question_text}", None)
