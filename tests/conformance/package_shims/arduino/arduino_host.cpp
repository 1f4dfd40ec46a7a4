// Runs an Arduino sketch on the host for the test (not shipped): analogRead() takes the next
// integer from stdin (the program ends at EOF), Serial prints to stdout, micros() advances
// 2.5 ms per call, main() calls setup() once and loop() forever.
#include <Arduino.h>

#include <stdio.h>
#include <stdlib.h>

HardwareSerial Serial;

unsigned long micros(void)
{
    static unsigned long now;
    now += 2500UL;
    return now;
}

int analogRead(uint8_t pin)
{
    (void)pin;
    int value;
    if (scanf("%d", &value) != 1) {
        fflush(stdout);
        exit(0);
    }
    return value;
}

void HardwareSerial::begin(unsigned long baud) { (void)baud; }
size_t HardwareSerial::print(const char *text) { return (size_t)printf("%s", text); }
size_t HardwareSerial::print(int value) { return (size_t)printf("%d", value); }
size_t HardwareSerial::print(unsigned long value) { return (size_t)printf("%lu", value); }
size_t HardwareSerial::println(const char *text) { return (size_t)printf("%s\n", text); }
size_t HardwareSerial::println(int value) { return (size_t)printf("%d\n", value); }

int main()
{
    setup();
    for (;;) {
        loop();
    }
}
