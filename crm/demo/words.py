"""Made-up names, places and words for the demo households, visits and check-ins."""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FEMALE_NAMES = _words(
    "Aisha Amelia Amy Anna Bethany Charlotte Chloe Claire Deborah Eleanor Elizabeth Emily Emma "
    "Esther Fatima Florence Gemma Grace Hannah Harriet Helen Imogen Isla Jade Jasmine Jennifer "
    "Jessica Joanne Julie Karen Katie Kirsty Laura Leah Lisa Louise Lucy Maria Megan Michelle "
    "Nadia Naomi Natalie Nicola Olivia Parveen Priya Rachel Rebecca Ruth Sadia Samantha Sarah "
    "Shabnam Sophie Stacey Susan Tanya Tracey Victoria Yasmin Zainab Zara Agnieszka Chipo Funmi "
    "Niamh Siobhan Gurpreet Mei Ayesha Kelly Donna Angela"
)


MALE_NAMES = _words(
    "Adam Ahmed Alan Andrew Anthony Ben Callum Chris Craig Daniel Darren David Dean Emeka "
    "Gareth Gary George Harry Imran Jack James Jamal Jason John Jonathan Kamal Kevin Lee Liam "
    "Mark Martin Matthew Michael Mohammed Neil Nathan Oliver Omar Patrick Paul Peter Rajesh "
    "Richard Robert Ryan Samuel Scott Simon Stephen Steven Stuart Thomas Tom Tony Usman Wayne "
    "William Yusuf Kwame Piotr Sean Rhys Dylan Tariq Arjun Wei Hamza Declan Marcus"
)


SURNAMES = _words(
    "Adams Ahmed Ali Allen Anderson Atkinson Bailey Baker Barker Begum Bell Bennett Brown "
    "Butler Campbell Carter Chapman Clarke Collins Cook Cooper Cox Davies Dixon Edwards Ellis "
    "Evans Fisher Fletcher Foster Gill Graham Green Hall Harris Harrison Hill Holmes Hughes "
    "Hussain Jackson James Johnson Jones Kaur Kelly Khan King Knight Lee Lewis Lloyd Marshall "
    "Martin Mason Mitchell Moore Morgan Morris Murphy Murray Nowak Okafor Owen Palmer Parker "
    "Patel Pearson Phillips Powell Price Rahman Reid Richards Richardson Roberts Robinson "
    "Rogers Rose Russell Scott Shah Sharma Shaw Simpson Singh Smith Stevens Stewart Taylor "
    "Thomas Thompson Turner Walker Ward Watson White Wilkinson Williams Wilson Wood Wright "
    "Young Mensah Kowalski Chen Nguyen Osei Adeyemi Iqbal Mahmood Doyle O'Brien"
)


STREETS = (
    "Mill Lane",
    "Church Street",
    "Station Road",
    "Victoria Road",
    "Park Avenue",
    "The Green",
    "Orchard Close",
    "Manor Way",
    "Queens Road",
    "Meadow Drive",
    "Chapel Street",
    "Willow Crescent",
    "School Lane",
    "Brook Street",
    "Hawthorn Road",
    "Elm Grove",
    "Canal Side",
    "Windsor Close",
)


INTERESTS = (
    "Interested in short breaks",
    "Would like to foster teenagers",
    "Thinking about fostering a sibling group",
    "Not sure yet which kind of fostering",
    "Interested in parent and child fostering",
    "Would like to know about the allowances",
    "Asked about fostering while working full time",
    "Interested in caring for disabled children",
    "Asked whether renting is a problem",
)


CONSENT_WORDING = {
    "store_details": "I agree to {service} keeping my details to help with my enquiry about "
    "fostering.",
    "email": "You may email me about fostering.",
    "phone": "You may phone me about fostering.",
    "sms": "You may send me text messages about fostering.",
    "telegram": "You may message me on Telegram about fostering.",
    "post": "You may send me information by post.",
}


VISIT_NOTES = (
    "Initial visit: spare room seen; keen on short-term fostering",
    "Initial visit: talked through the assessment; both applicants very motivated",
    "Initial visit: interested in teenagers; will think about an application",
    "Initial visit: asked about working while fostering",
    "Initial visit: own children at home and supportive",
    "Initial visit: renting; landlord's agreement needed",
)


CHECK_IN_COMMENTS = {
    "low": (
        "Still waiting for the respite I asked about",
        "Haven't seen my supervising social worker for weeks",
        "Finding the current placement really hard",
        "Nobody answers the out-of-hours line",
        "Feeling let down by the school meetings",
    ),
    "mid": (
        "Things are okay, busy month",
        "Training was useful",
        "Contact arrangements are tricky",
    ),
    "high": (
        "Really well supported this month",
        "The support group is brilliant",
        "Settling in well, thank you",
        "Our supervising social worker is great",
    ),
}

# Keeping carers (crm.demo.support).
SUPERVISION_NOTES = (
    "Children settled; school attendance good. Safer caring plan reviewed and up to date.",
    "Home warm and tidy. Discussed bedtime routines and contact arrangements.",
    "Carer managing well after a difficult month; talked through support available.",
    "Reviewed the daily log and medication records; both complete.",
    "Spoke with the young person alone; they said they feel safe and listened to.",
    "Discussed the child's life story work and the next review meeting.",
)
SUPERVISION_RAISED = (
    "Would like a short break over the summer holidays",
    "Asked for help with the school about a reduced timetable",
    "Mileage claims are taking a long time to be paid",
    "Wants to go on the therapeutic parenting course",
    "Worried about contact with the birth family being cancelled at short notice",
)
PLACEMENT_ENDINGS = {
    "planned": (
        "Returned home to family",
        "Moved to long-term carers as planned",
        "Adopted",
        "Turned 18 and moved to supported lodgings",
        "Special guardianship order",
    ),
    "unplanned": (
        "Placement broke down after allegations",
        "Carer asked for the child to be moved",
        "Moved to a residential home",
        "Child went missing and was placed elsewhere",
    ),
}
TRAINING_COURSES = (
    ("Safer caring", 3.0),
    ("First aid for foster carers", 6.0),
    ("Understanding trauma and attachment", 6.0),
    ("Managing allegations", 2.5),
    ("Online safety", 2.0),
    ("Recording and the daily log", 1.5),
)
