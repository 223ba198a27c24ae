from django.http import HttpResponse


def metrics(request):
    return HttpResponse("")
