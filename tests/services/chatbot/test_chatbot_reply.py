"""The reply sentence: the answer span said back, or the abstention."""
from __future__ import annotations

import pytest

from services.chatbot.reply import NO_ANSWER, reply


@pytest.mark.parametrize("question,answer,sentence", [
    ("How long does an appointment last?", "40 minutes", "An appointment lasts 40 minutes."),
    ("how long is the notice period", "4 weeks", "The notice period is 4 weeks."),
    ("How long do the tours take?", "90 minutes", "The tours take 90 minutes."),
    ("how long's the wait", "about 20 minutes", "The wait is about 20 minutes."),
    ("How long will my repair take?", "2-3 working days", "Your repair will take 2-3 working days."),
    ("How long do I have to cancel?", "48 hours", "The answer is 48 hours."),
    ("How long will my dog be there?", "about 3 hours", "The answer is about 3 hours."),
    ("How long does it take to cut a key?", "5 mins", "It takes 5 mins to cut a key."),
    ("How long is a return ticket valid for?", "1 month", "A return ticket is valid for 1 month."),
    ("How long does treatment usually take?", "12-18 months",
     "Treatment usually takes 12-18 months."),
    ("How long is the library open on Sunday?", "noon till 5", "We are open noon till 5 on Sunday."),
    ("what do I need to bring to join", "proof of address",
     "You need to bring proof of address to join."),
    ("What should I bring with me?", "photo ID", "You should bring photo ID with you."),
    ("what should I bring to my appointment", "your student card",
     "You should bring your student card to your appointment."),
    ("How long does the warranty last?", "2 years", "The warranty lasts 2 years."),
    ("How long does the festival go on for?", "3 days", "The festival goes on for 3 days."),
    ("How long will my dog need to stay?", "3 hours", "The answer is 3 hours."),
    ("How long does the last bus take?", "20 minutes", "The answer is 20 minutes."),
    ("How long is the library open on Sunday?", "10 hours", "The answer is 10 hours."),
    ("How long doeſ it take?", "5 minutes", "It takes 5 minutes."),  # casefolds to "does"
    ("How long does it Go On For?", "3 days", "It goes on for 3 days."),  # the verb casefolded
    ("How long does it TAKE TO cut a key?", "5 mins", "It takes 5 mins TO cut a key."),  # words kept
    ("How long does it lasts?", "2 hours", "The answer is 2 hours."),  # no "It lasts takes"
    ("How long İs the wait?", "5 minutes", "The wait is 5 minutes."),
    ("What should we bring with us to the party?", "a dish",
     "You should bring a dish with you to the party."),
    ("What do I need to bring for a test ride?", "photo ID and a £500 deposit",
     "You need to bring photo ID and a £500 deposit for a test ride."),
    ("When do you open on Monday?", "9:00", "We open at 9:00 on Monday."),
    ("What time do you close on Wednesdays?", "20:00", "We close at 20:00 on Wednesday."),
    ("Are you open on Sunday?", "closed", "We are closed on Sunday."),
    ("What are your hours on Saturday?", "10:00 - 14:00",
     "We are open 10:00 - 14:00 on Saturday."),
    ("Hi, what time does the front desk open, please?", "8:30am", "We open at 8:30am."),
    ("What time is check-in?", "3pm", "Check-in is at 3pm."),
    ("When does breakfast start?", "7:00", "Breakfast starts at 7:00."),
    ("Who is the manager?", "Maria Lopez", "Maria Lopez is the manager."),
    ("Who is the head librarian?", "Prof. Ada Moreau", "Prof. Ada Moreau is the head librarian."),
    ("What is the name of the IT technician?", "Priya Shah", "Priya Shah is the IT technician."),
    ("What does Tom Becker do?", "receptionist", "Tom Becker is the receptionist."),
    ("What does Tom Becker do?", "the archivist", "Tom Becker is the archivist."),
    ("Who is Dr. Silva?", "our principal dentist", "Dr. Silva is our principal dentist."),
    ("Who is Dr. Silva?", "Dr. Ana Silva", "It's Dr. Ana Silva."),
    ("Who's Mrs. Helen Barker?", "Mrs. Helen Barker", "It's Mrs. Helen Barker."),
    ("What's the phone number of the help desk?", "555-0142",
     "You can call the help desk on 555-0142."),
    ("What number do I ring to move my appointment?", "020 7946 0018",
     "You can call 020 7946 0018 to move your appointment."),
    ("What is your phone number?", "087 555 0199", "You can call 087 555 0199."),
    ("What is the email address for the help desk?", "help@desk.org",
     "You can email help@desk.org."),
    ("Where is the Oak Room?", "room 204", "The Oak Room is in room 204."),
    ("Which floor is the Oak Room on?", "second floor", "The Oak Room is on the second floor."),
    ("Where is room 310?", "level 3", "Room 310 is on level 3."),
    ("Which room holds the local history collection?", "room 2.31",
     "The local history collection is in room 2.31."),
    ("How much does a day pass cost?", "$5.00", "A day pass costs $5.00."),
    ("How much is printing?", "$0.10", "Printing costs $0.10."),
    ("How much does it cost to book a meeting room?", "€25",
     "It costs €25 to book a meeting room."),
    ("wifi password?", "latte2026", "The Wi-Fi password is latte2026."),
    ("What's the wifi called?", "HVL-Public", "The Wi-Fi network is HVL-Public."),
    ("How much is the wifi?", "£2", "The wifi costs £2."),  # a price, not a network
    ("Where is the Wi-Fi router?", "Room 2", "The Wi-Fi router is in Room 2."),
    ("Who do I ask about the wifi?", "Tom Becker", "It's Tom Becker."),
    ("How fast is the internet?", "100 Mbps", "The answer is 100 Mbps."),
    ("Who is the Practice Manager?", "Maria Lopez", "Maria Lopez is the Practice Manager."),
    ("Who is my doctor?", "Dr. Ana Silva", "Dr. Ana Silva is your doctor."),
    ("What does Tom Becker do?", "A&E nurse", "Tom Becker is the A&E nurse."),
    ("Tell me something", "blue", "The answer is blue."),
])
def test_an_answer_is_said_back_as_a_short_sentence(question, answer, sentence):
    assert reply(question, answer) == sentence


@pytest.mark.parametrize("answer", [None, "", "   "])
def test_an_abstention_says_the_information_does_not_hold_it(answer):
    assert reply("Is there a discount for students?", answer) == NO_ANSWER
    assert NO_ANSWER.startswith("Sorry, I can't find that")


def test_a_long_run_of_spaces_is_said_back_at_once():
    # the trailing-punctuation pattern once took minutes on 5,000 spaces
    assert reply("How long is" + " " * 5000 + "the wait?", "5 minutes") == "The wait is 5 minutes."
