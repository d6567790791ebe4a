from django import forms


class AskForm(forms.Form):
    question_text = forms.CharField(label="Your question", max_length=200)
